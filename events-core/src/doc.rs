//! Doc comments, rendered the way rustdoc shows them.
//!
//! `#[derive(Event)]` records each `///` line, `/** */` block and
//! `#[doc = ...]` attribute as a fragment. Attributes may hold macros such as
//! `include_str!`, which only the compiler evaluates, so the fragments are
//! joined and unindented here, once, on first use.

use std::sync::OnceLock;

/// The syntax a doc fragment was written in.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocKind {
    /// `/// text`: the text keeps the space after the slashes.
    Line,
    /// `/** text */`
    Block,
    /// `#[doc = "text"]`, or a doc comment the macro could not see the source of.
    Attribute,
}

/// One doc comment line, block or attribute.
#[doc(hidden)]
#[derive(Debug)]
pub struct DocFragment {
    kind: DocKind,
    text: &'static str,
}

impl DocFragment {
    #[doc(hidden)]
    pub const fn __new(kind: DocKind, text: &'static str) -> Self {
        DocFragment { kind, text }
    }
}

/// Doc fragments and their rendering, computed on first use.
pub(crate) struct Doc {
    fragments: &'static [DocFragment],
    rendered: OnceLock<String>,
}

impl Doc {
    pub(crate) const fn new(fragments: &'static [DocFragment]) -> Self {
        Doc {
            fragments,
            rendered: OnceLock::new(),
        }
    }

    pub(crate) fn get(&self) -> &str {
        self.rendered.get_or_init(|| render(self.fragments))
    }
}

/// Joins fragments into the text rustdoc shows: block comment decoration
/// removed, the common indentation removed, blank lines at both ends dropped.
pub(crate) fn render(fragments: &[DocFragment]) -> String {
    let texts: Vec<(DocKind, String)> = fragments
        .iter()
        .map(|fragment| match fragment.kind {
            DocKind::Block => (fragment.kind, undecorate_block(fragment.text)),
            _ => (fragment.kind, fragment.text.to_owned()),
        })
        .collect();

    // `/// text` keeps one space that `#[doc = "text"]` lacks. When both forms
    // are mixed, attribute lines count as one column deeper so that the
    // common indentation removes that space from comment lines only.
    let mixed = texts.windows(2).any(|pair| pair[0].0 != pair[1].0);
    let has_comments = texts.iter().any(|(kind, _)| *kind != DocKind::Attribute);
    let shift = usize::from(mixed && has_comments);

    let indent = texts
        .iter()
        .flat_map(|(kind, text)| {
            let extra = if *kind == DocKind::Attribute {
                shift
            } else {
                0
            };
            text.split('\n')
                .filter(|line| !line.trim().is_empty())
                .map(move |line| leading_whitespace(line) + extra)
        })
        .min()
        .unwrap_or(0);

    let mut lines = Vec::new();
    for (kind, text) in &texts {
        let strip = if *kind == DocKind::Attribute {
            indent.saturating_sub(shift)
        } else {
            indent
        };
        lines.extend(text.split('\n').map(|line| strip_indent(line, strip)));
    }

    let first = lines.iter().position(|line| !line.is_empty());
    let last = lines.iter().rposition(|line| !line.is_empty());
    match (first, last) {
        (Some(first), Some(last)) => lines[first..=last].join("\n"),
        _ => String::new(),
    }
}

fn leading_whitespace(line: &str) -> usize {
    line.chars().take_while(|c| *c == ' ' || *c == '\t').count()
}

/// Removes up to `count` leading spaces or tabs and all trailing whitespace.
fn strip_indent(line: &str, count: usize) -> &str {
    let line = line.trim_end();
    let strip = leading_whitespace(line).min(count);
    &line[strip..]
}

/// Removes the decoration of a `/** */` comment: a first or last line made
/// only of stars or blanks, and a `*` column that starts every other line.
fn undecorate_block(text: &str) -> String {
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.len() < 2 {
        return text.to_owned();
    }
    let decoration = |line: &str| line.trim().chars().all(|c| c == '*');
    if lines.first().is_some_and(|line| decoration(line)) {
        lines.remove(0);
    }
    if lines.last().is_some_and(|line| decoration(line)) {
        lines.pop();
    }

    // The prefix up to and including `*` must be the same on every non-blank line.
    let prefix = lines
        .iter()
        .find(|line| !line.trim().is_empty())
        .and_then(|line| line.find('*').map(|star| &line[..=star]))
        .filter(|prefix| prefix[..prefix.len() - 1].trim().is_empty());
    let Some(prefix) = prefix else {
        return lines.join("\n");
    };
    let every_line_starred = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .all(|line| line.starts_with(prefix));
    if !every_line_starred {
        return lines.join("\n");
    }
    lines
        .iter()
        .map(|line| line.strip_prefix(prefix).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::{render, DocFragment, DocKind};

    fn line(text: &'static str) -> DocFragment {
        DocFragment::__new(DocKind::Line, text)
    }

    fn attribute(text: &'static str) -> DocFragment {
        DocFragment::__new(DocKind::Attribute, text)
    }

    #[test]
    fn render_removes_common_indentation() {
        let fragments = [
            line(" First line."),
            line(""),
            line("     indented"),
            line(" last"),
        ];
        assert_eq!(render(&fragments), "First line.\n\n    indented\nlast");
    }

    #[test]
    fn render_splits_multiline_attributes() {
        assert_eq!(render(&[attribute("  a\n  b"), attribute("")]), "a\nb");
    }

    #[test]
    fn render_of_nothing_is_empty() {
        assert_eq!(render(&[]), "");
    }

    #[test]
    fn render_mixed_forms_drop_comment_space() {
        let fragments = [
            line(" Comment line."),
            attribute("Attribute line."),
            line(" Last."),
        ];
        assert_eq!(render(&fragments), "Comment line.\nAttribute line.\nLast.");
    }

    #[test]
    fn render_block_drops_stars() {
        let fragments = [DocFragment::__new(
            DocKind::Block,
            "*\n     * Summary.\n     *\n     *     code\n     ",
        )];
        assert_eq!(render(&fragments), "Summary.\n\n    code");
    }

    #[test]
    fn render_block_without_stars_unindents() {
        let fragments = [DocFragment::__new(
            DocKind::Block,
            "\n    Summary.\n      more\n",
        )];
        assert_eq!(render(&fragments), "Summary.\n  more");
    }
}

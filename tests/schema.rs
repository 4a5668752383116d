//! JSON Schemas of event payloads, with the `schema` feature:
//! `cargo test --features schema --test schema`.

#[cfg(not(feature = "schema"))]
#[test]
#[ignore = "needs the `schema` feature: cargo test --features schema --test schema"]
fn schema_of_payload() {}

#[cfg(feature = "schema")]
mod with_feature {
    use events::{Envelope, Event};
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    /// A product was listed in the catalogue.
    #[derive(Event, Serialize, Deserialize, schemars::JsonSchema)]
    #[event(name = "ProductListed", version = 2)]
    struct ProductListed {
        /// Stock keeping unit.
        sku: String,
        price_cents: u64,
        /// Absent for products without a brand.
        brand: Option<String>,
        #[serde(default)]
        tags: Vec<String>,
    }

    /// A payload without `schemars::JsonSchema`.
    #[derive(Event, Serialize, Deserialize)]
    struct ProductDelisted {
        sku: String,
    }

    fn product_schema() -> serde_json::Value {
        ProductListed::info()
            .schema()
            .expect("`ProductListed` derives `JsonSchema`")
    }

    #[test]
    fn schema_lists_properties() {
        let schema = product_schema();

        let properties = schema["properties"].as_object().unwrap();
        let names: Vec<&str> = properties.keys().map(String::as_str).collect();
        assert_eq!(names, ["brand", "price_cents", "sku", "tags"]);
        assert_eq!(properties["sku"]["type"], "string");
        assert_eq!(properties["sku"]["description"], "Stock keeping unit.");
        assert_eq!(properties["price_cents"]["type"], "integer");
        assert_eq!(properties["price_cents"]["minimum"], 0);
        assert_eq!(properties["brand"]["type"], json!(["string", "null"]));
        assert_eq!(properties["tags"]["type"], "array");
        assert_eq!(properties["tags"]["items"]["type"], "string");
    }

    #[test]
    fn schema_lists_required_fields() {
        let schema = product_schema();

        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|name| name.as_str().unwrap())
            .collect();
        required.sort_unstable();
        assert_eq!(required, ["price_cents", "sku"]);
    }

    #[test]
    fn schema_has_title_and_doc() {
        let schema = product_schema();

        assert_eq!(schema["type"], "object");
        assert_eq!(schema["title"], "ProductListed");
        assert_eq!(
            schema["description"],
            "A product was listed in the catalogue."
        );
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
    }

    #[test]
    fn schema_accepts_emitted_data() {
        let validator = jsonschema::validator_for(&product_schema()).unwrap();
        let envelope = Envelope::new(ProductListed {
            sku: "LAMP-OAK".to_owned(),
            price_cents: 8900,
            brand: None,
            tags: vec!["lighting".to_owned()],
        });

        let encoded = serde_json::to_value(&envelope).unwrap();

        let errors: Vec<String> = validator
            .iter_errors(&encoded["data"])
            .map(|error| error.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn schema_rejects_invalid_data() {
        let validator = jsonschema::validator_for(&product_schema()).unwrap();

        assert!(!validator.is_valid(&json!({ "sku": "LAMP-OAK" })));
        assert!(!validator.is_valid(&json!({ "sku": "LAMP-OAK", "price_cents": -1 })));
        assert!(validator.is_valid(&json!({ "sku": "LAMP-OAK", "price_cents": 1 })));
    }

    #[test]
    fn no_schema_without_json_schema() {
        assert_eq!(ProductDelisted::info().schema(), None);
    }
}

// Event names start with an ASCII letter.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(name = "2fa.enabled")]
struct TwoFactorEnabled {
    user_id: u64,
}

fn main() {}

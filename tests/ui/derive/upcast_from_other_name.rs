// An upcast links two versions of one event name.
use events::Event;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize)]
#[event(name = "CartCreated", version = 1)]
struct CartCreated {
    cart_id: u64,
}

#[derive(Event, Serialize, Deserialize)]
#[event(name = "CartCheckedOut", version = 2, upcast_from = CartCreated)]
struct CartCheckedOut {
    cart_id: u64,
}

impl From<CartCreated> for CartCheckedOut {
    fn from(cart: CartCreated) -> Self {
        CartCheckedOut {
            cart_id: cart.cart_id,
        }
    }
}

fn main() {}

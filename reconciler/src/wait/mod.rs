//! Waiting until applied objects are healthy, with a timeout that reports the object's own
//! condition message.

pub mod health;

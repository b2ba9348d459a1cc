//! The devices crate's integration tests, one binary: the inventory against SQLite and
//! PostgreSQL (`inventory`), ONVIF against the simulator and ipycam (`onvif_sim`),
//! inventory cameras as hub sources (`streams`).

mod inventory;
mod onvif_sim;
mod streams;

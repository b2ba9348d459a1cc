//! The command crate's integration tests, one binary: the incident store against SQLite
//! and PostgreSQL (`incidents`), acknowledged writes surviving SIGKILL (`durability`), the
//! organisation store and the sample ledger (`org`), opening the database (`storage`).

mod access;
mod console_settings;
mod durability;
mod incidents;
mod org;
mod storage;
mod walls;

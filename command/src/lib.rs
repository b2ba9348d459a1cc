//! Watchpost's command module: duty shifts, incidents from intake to closure, dispatch,
//! timeline, consultations — and their storage.
//!
//! This crate never imports the media or device crates: it refers to cameras by id.
//! Storage is sqlx on an embedded SQLite file by default, PostgreSQL for several nodes
//! (see [`storage`]).

pub mod access;
pub mod cameras;
pub mod domain;
pub mod import;
pub mod incidents;
pub mod org;
pub mod storage;
pub mod walls;

pub use storage::{Database, StorageError};

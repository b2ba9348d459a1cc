//! Watchpost's typed configuration.
//!
//! A [`Config`] is built in four steps, each overriding the one before:
//! 1. defaults (every field has one; `watchpost.example.toml` lists them all);
//! 2. a TOML file (`watchpost serve --config FILE`);
//! 3. environment overrides, `WATCHPOST__SECTION__KEY=value`, e.g.
//!    `WATCHPOST__MEDIA__ON_DEMAND__LINGER=5s` (the value is read as a TOML value when it is
//!    one — `8080`, `true`, `["a"]` — and as a string otherwise);
//! 4. [`Config::validate`], which checks what types cannot (ranges, URL schemes, unique
//!    camera names).
//!
//! Unknown keys are errors, not warnings: a misspelt `linger` must not silently fall back to
//! its default on a production wall. Every [`Problem`] names where the value came from (the
//! file, the environment variable, or the default), the key path and why it is wrong.
//! Secrets ([`Secret`], [`SecretUrl`]) never print their value.

mod load;
mod model;
mod secret;
pub mod units;
mod validate;

pub use load::{ConfigError, ENV_PREFIX, Origin, Problem, load, load_with_env};
pub use model::*;
pub use secret::{REDACTED, Secret, SecretUrl, redact_url};
pub use validate::CAMERA_NAME_RULE;

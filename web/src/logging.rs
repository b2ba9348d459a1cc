//! Log set-up: human-readable lines on a terminal, JSON lines for collectors.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use watchpost_config::LogFormat;

/// Installs the global `tracing` subscriber writing to stderr. Libraries that log through
/// the `log` crate (retina, sqlx) are bridged into it.
///
/// `filter` uses tracing's syntax (`info,watchpost_media=debug`); `RUST_LOG`, when set,
/// takes precedence so an operator can raise verbosity without editing the file.
pub fn init(filter: &str, format: LogFormat) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => EnvFilter::try_new(env)?,
        _ => EnvFilter::try_new(filter)?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}

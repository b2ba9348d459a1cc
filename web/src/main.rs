//! `watchpost`: the emergency-command media server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use watchpost_config::LogFormat;
use watchpost_web::{VERSION, demo, logging, serve, shutdown_signal};

/// Watchpost: live camera video and incident command for work-safety regulators.
#[derive(Debug, Parser)]
#[command(name = "watchpost", version = VERSION, about, long_about = None)]
struct Cli {
    /// Log format; overrides `log.format` from the configuration.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(f: LogFormatArg) -> Self {
        match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default when no command is given).
    Serve {
        /// TOML configuration file; without it, defaults and WATCHPOST__* variables apply.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Run the demo: four simulated cameras, an embedded SQLite database, the web UI.
    Demo {
        /// Where the demo keeps its database.
        #[arg(long, default_value = "demo-data")]
        data_dir: PathBuf,
        /// HTTP address of the web UI and API.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
    },
    /// Check a configuration file (and WATCHPOST__* variables); exit 0 if it is usable.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// Print the OpenAPI 3.1 document of the HTTP API (also served at
    /// `/api/v1/openapi.json`; the committed copy is `docs/openapi.json`).
    Openapi,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve { config: None });
    match command {
        Command::Openapi => {
            print!("{}", watchpost_web::openapi::document_json());
            ExitCode::SUCCESS
        }
        Command::CheckConfig { file } => match watchpost_config::load(Some(&file)) {
            Ok(config) => {
                println!(
                    "{}: ok ({} camera{})",
                    file.display(),
                    config.cameras.len(),
                    if config.cameras.len() == 1 { "" } else { "s" }
                );
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("{err}");
                ExitCode::FAILURE
            }
        },
        Command::Serve { config } => {
            let config = match watchpost_config::load(config.as_deref()) {
                Ok(c) => c,
                Err(err) => {
                    eprintln!("invalid configuration:\n{err}");
                    return ExitCode::FAILURE;
                }
            };
            let format = cli.log_format.map_or(config.log.format, Into::into);
            run(
                &config.log.level.clone(),
                format,
                serve(config, shutdown_signal()),
            )
        }
        Command::Demo { data_dir, listen } => {
            let format = cli.log_format.map_or(LogFormat::Text, Into::into);
            run(
                "info",
                format,
                demo::run(data_dir, listen, shutdown_signal()),
            )
        }
    }
}

/// Installs logging, runs `task` on a multi-threaded runtime and maps its result to an exit
/// code (errors are logged with their whole chain).
fn run(level: &str, format: LogFormat, task: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    if let Err(err) = logging::init(level, format) {
        eprintln!("{err:#}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(task) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            ExitCode::FAILURE
        }
    }
}

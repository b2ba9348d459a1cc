//! `watchpost`: the emergency-command media server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use watchpost_command::access::{AuditContext, Jurisdiction, NewUser, Password, Role};
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
    /// Manage user accounts (the first administrator is made here).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print the OpenAPI 3.1 document of the HTTP API (also served at
    /// `/api/v1/openapi.json`; the committed copy is `docs/openapi.json`).
    Openapi,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user. The password is read from standard input (one line) with
    /// `--password-stdin`, otherwise generated and printed once.
    Add {
        /// Login name: 3 to 64 characters a-z 0-9 . _ -.
        username: String,
        /// Make a city administrator (the same as `--role admin --jurisdiction city`).
        #[arg(long, conflicts_with_all = ["role", "jurisdiction"])]
        admin: bool,
        /// admin, commander, operator or viewer.
        #[arg(long, default_value = "viewer")]
        role: String,
        /// `city`, `district:NAME`, `street:DISTRICT/STREET` or `enterprise:LEDGER_ID`.
        #[arg(long, default_value = "city")]
        jurisdiction: String,
        /// The name shown (default: the username).
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        /// TOML configuration file (for the database); without it, defaults and
        /// WATCHPOST__* variables apply.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

/// `city`, `district:NAME`, `street:DISTRICT/STREET`, `enterprise:ID`.
fn parse_jurisdiction(text: &str) -> Result<Jurisdiction, String> {
    let (level, rest) = text.split_once(':').unwrap_or((text, ""));
    match (level, rest) {
        ("city", "") => Ok(Jurisdiction::City),
        ("district", d) if !d.is_empty() => Ok(Jurisdiction::District {
            district: d.to_owned(),
        }),
        ("street", ds) => match ds.split_once('/') {
            Some((d, s)) if !d.is_empty() && !s.is_empty() => Ok(Jurisdiction::Street {
                district: d.to_owned(),
                street: s.to_owned(),
            }),
            _ => Err(format!("{text:?}: expected street:DISTRICT/STREET")),
        },
        ("enterprise", e) if !e.is_empty() => Ok(Jurisdiction::Enterprise {
            enterprise_id: e.to_owned(),
        }),
        _ => Err(format!(
            "{text:?}: expected city, district:NAME, street:DISTRICT/STREET or enterprise:ID"
        )),
    }
}

/// `watchpost user add`.
async fn add_user(command: UserCommand) -> anyhow::Result<()> {
    let UserCommand::Add {
        username,
        admin,
        role,
        jurisdiction,
        display_name,
        password_stdin,
        config,
    } = command;
    let (role, jurisdiction) = if admin {
        (Role::Admin, Jurisdiction::City)
    } else {
        (
            Role::parse(&role).map_err(anyhow::Error::msg)?,
            parse_jurisdiction(&jurisdiction).map_err(anyhow::Error::msg)?,
        )
    };
    let config = watchpost_config::load(config.as_deref())
        .map_err(|e| anyhow::anyhow!("invalid configuration:\n{e}"))?;
    std::fs::create_dir_all(&config.storage.data_dir)?;
    let (password, generated) = if password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        (Password::new(line.trim_end_matches(['\r', '\n'])), false)
    } else {
        (Password::generate(20)?, true)
    };
    let db = watchpost_command::Database::connect(&config.storage.effective_database_url()).await?;
    let access = watchpost_web::auth::Access::open(db, &config).await?;
    let user = access
        .create_user(
            NewUser {
                display_name: display_name.unwrap_or_else(|| username.clone()),
                username,
                role,
                jurisdiction,
                disabled: false,
                password: password.clone(),
            },
            &AuditContext::anonymous(None),
        )
        .await
        .map_err(|e| match e {
            watchpost_web::ApiError::Invalid { fields, .. } => anyhow::anyhow!(
                "{}",
                fields
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.reason))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            e => anyhow::anyhow!("{e}"),
        })?;
    println!(
        "added {} ({}, {}) as {}",
        user.username.as_str(),
        user.role.as_str(),
        serde_json::to_string(&user.jurisdiction)?,
        user.id
    );
    if generated {
        println!("password (shown once): {}", password.expose());
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve { config: None });
    match command {
        Command::User { command } => run("warn", LogFormat::Text, add_user(command)),
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

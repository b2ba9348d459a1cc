//! A PostgreSQL server for the tests.
//!
//! Uses, in order: `$WATCHPOST_TEST_POSTGRES_URL`; the machine's server on 127.0.0.1:5432
//! when it accepts `postgres@test` without a password (this project's machines run one);
//! otherwise a private, throw-away cluster (trust auth, 127.0.0.1 only, an ephemeral port)
//! started from the installed PostgreSQL binaries and stopped when the tests end
//! (`WATCHPOST_TEST_POSTGRES=private` forces the private cluster).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

use crate::{Result, run};

/// The server the tests use; a private cluster is stopped and removed on drop.
pub struct Postgres {
    url: String,
    private: Option<(PathBuf, Option<String>)>,
}

impl Postgres {
    /// The connection URL for `WATCHPOST_TEST_POSTGRES_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some((dir, user)) = &self.private {
            let bin = pg_bin("pg_ctl").unwrap_or_else(|| "pg_ctl".into());
            let mut cmd = as_user(user.as_deref(), &bin);
            cmd.args(["-D"])
                .arg(dir.join("data"))
                .args(["-m", "fast", "stop"]);
            let _ = cmd.output();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Finds or starts a server and returns its URL.
pub fn ensure() -> Result<Postgres> {
    if let Ok(url) = std::env::var("WATCHPOST_TEST_POSTGRES_URL") {
        return Ok(Postgres { url, private: None });
    }
    let machine = "postgres://postgres@127.0.0.1:5432/test";
    let force_private = std::env::var("WATCHPOST_TEST_POSTGRES").is_ok_and(|v| v == "private");
    if !force_private && accepts(machine) {
        eprintln!("xtask: PostgreSQL: using the machine's server at 127.0.0.1:5432");
        return Ok(Postgres {
            url: machine.to_owned(),
            private: None,
        });
    }
    start_private()
}

/// Whether `psql` can run a query at `url`.
fn accepts(url: &str) -> bool {
    Command::new("psql")
        .args([url, "-XAtqc", "SELECT 1"])
        .env("PGCONNECT_TIMEOUT", "3")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `/usr/lib/postgresql/<newest>/bin/<name>` (Debian keeps server binaries off PATH).
fn pg_bin(name: &str) -> Option<String> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("bin").join(name).is_file())
        .collect();
    versions.sort_by_key(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions
        .last()
        .map(|p| p.join("bin").join(name).to_string_lossy().into_owned())
}

/// PostgreSQL refuses to run as root: run its tools as the `postgres` user when we are root.
fn as_user(user: Option<&str>, program: &str) -> Command {
    match user {
        Some(user) => {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", user, "--", program]);
            cmd
        }
        None => Command::new(program),
    }
}

fn start_private() -> Result<Postgres> {
    let initdb = pg_bin("initdb").ok_or(
        "no PostgreSQL server: nothing answers on 127.0.0.1:5432 and no initdb under \
         /usr/lib/postgresql (install the `postgresql` package, or set WATCHPOST_TEST_POSTGRES_URL)",
    )?;
    let pg_ctl = pg_bin("pg_ctl").ok_or("pg_ctl not found next to initdb")?;
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let user = root.then(|| "postgres".to_owned());
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("cannot pick a port: {e}"))?
        .port();
    let dir = std::env::temp_dir().join(format!("watchpost-test-pg-{port}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if let Some(user) = &user {
        run(Command::new("chown").args([user.as_str()]).arg(&dir))?;
    }
    eprintln!("xtask: PostgreSQL: starting a private cluster on 127.0.0.1:{port}");
    run(as_user(user.as_deref(), &initdb)
        .args(["-D"])
        .arg(dir.join("data"))
        .args(["-A", "trust", "-U", "postgres", "--no-sync"]))?;
    let options = format!(
        "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off",
        dir.display()
    );
    let pg = Postgres {
        url: format!("postgres://postgres@127.0.0.1:{port}/test"),
        private: Some((dir.clone(), user.clone())),
    };
    run(as_user(user.as_deref(), &pg_ctl)
        .args(["-D"])
        .arg(dir.join("data"))
        .args(["-l"])
        .arg(dir.join("server.log"))
        .args(["-o", &options, "-w", "start"]))?;
    run(Command::new("psql").args([
        &format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        "-XAtqc",
        "CREATE DATABASE test",
    ]))?;
    Ok(pg)
}

//! `watchpost demo`: the simulated cameras, an embedded SQLite file, the web UI.
//!
//! Starts `watchpost-sim --demo` as a child process, reads the cameras it serves from its
//! standard output (one JSON object per line, then `{"ready":true}`), declares them as
//! static cameras, prints every URL, and serves until a shutdown signal. The simulator is
//! killed when the demo ends, however it ends.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use watchpost_config::{CameraConfig, Config, RtspTransport, Secret, SecretUrl};

use crate::Server;

/// How long the simulator may take to bring its cameras up.
const SIM_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// One line of the simulator's start-up report.
#[derive(Debug, Deserialize)]
struct SimLine {
    #[serde(default)]
    ready: bool,
    camera: Option<String>,
    title: Option<String>,
    main: Option<String>,
    sub: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// Runs the demo until `shutdown` resolves.
pub async fn run(
    data_dir: PathBuf,
    listen: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let sim_path = simulator_path()?;
    let mut child = Command::new(&sim_path)
        .arg("--demo")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start the camera simulator {}", sim_path.display()))?;
    let cameras = tokio::time::timeout(SIM_READY_TIMEOUT, read_cameras(&mut child))
        .await
        .context("the camera simulator did not report ready in time")??;

    let mut config = Config::default();
    config.server.http_listen = listen;
    // WebRTC on any free UDP port of the same address: browsers learn it from the answer,
    // and a fixed port could be taken on a shared machine.
    config.webrtc.udp_listen = SocketAddr::new(listen.ip(), 0);
    config.storage.data_dir = data_dir;
    config.cameras = cameras;
    config.validate().context("demo configuration")?;

    let server = Server::bind(config.clone()).await?;
    print_urls(&config, server.local_addr());
    let result = server.run(shutdown).await;
    if let Err(err) = child.kill().await {
        tracing::warn!("stopping the camera simulator: {err}");
    }
    result
}

/// The simulator binary: `$WATCHPOST_SIM`, else next to this executable, else on `PATH`.
fn simulator_path() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("WATCHPOST_SIM") {
        return Ok(path.into());
    }
    let exe = std::env::current_exe().context("cannot locate the watchpost executable")?;
    let sibling = exe.with_file_name("watchpost-sim");
    if sibling.is_file() {
        return Ok(sibling);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("watchpost-sim"))
        .find(|p| p.is_file());
    on_path.ok_or_else(|| {
        anyhow::anyhow!(
            "the camera simulator watchpost-sim was not found next to {} nor on PATH; \
             `cargo xtask demo` builds it (or `cargo build -p watchpost-fixtures`)",
            exe.display()
        )
    })
}

async fn read_cameras(child: &mut Child) -> anyhow::Result<Vec<CameraConfig>> {
    let stdout = child.stdout.take().context("simulator stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut cameras = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let parsed: SimLine = serde_json::from_str(&line)
            .with_context(|| format!("unexpected line from the simulator: {line}"))?;
        if parsed.ready {
            // Keep draining stdout so the simulator never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok(cameras);
        }
        let (Some(name), Some(main)) = (parsed.camera, parsed.main) else {
            bail!("simulator line without camera and main URL: {line}");
        };
        cameras.push(CameraConfig {
            title: parsed.title.unwrap_or_else(|| name.clone()),
            name,
            main_url: SecretUrl::new(main),
            sub_url: parsed.sub.map(SecretUrl::new),
            username: parsed.username,
            password: parsed.password.map(Secret::new),
            transport: RtspTransport::Tcp,
            always_on: false,
            policies: Vec::new(),
        });
    }
    let status = child.wait().await?;
    bail!("the camera simulator exited before it was ready ({status})")
}

fn print_urls(config: &Config, http: SocketAddr) {
    let db = config.storage.effective_database_url();
    let base = format!("http://{http}");
    println!();
    println!("Watchpost demo is running. Press Ctrl-C to stop.");
    println!("  web UI       {base}/");
    println!("  health       {base}/healthz");
    println!("  cameras API  {base}/api/v1/cameras");
    println!("  streams API  {base}/api/v1/paths");
    println!("  database     {db}");
    println!("  data dir     {}", display_dir(&config.storage.data_dir));
    println!("Simulated cameras (RTSP, also playable with ffplay or VLC):");
    for camera in &config.cameras {
        let auth = match &camera.username {
            Some(user) => format!("  (user {user}, digest auth)"),
            None => String::new(),
        };
        println!("  {:<18} main {}{auth}", camera.name, camera.main_url);
        println!(
            "  {:<18}      watch {base}/play/{}/main  (WHEP {base}/whep/{}/main)",
            "", camera.name, camera.name
        );
        if let Some(sub) = &camera.sub_url {
            println!("  {:<18} sub  {sub}", "");
            println!("  {:<18}      watch {base}/play/{}/sub", "", camera.name);
        }
    }
    println!();
}

fn display_dir(dir: &Path) -> String {
    std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .display()
        .to_string()
}

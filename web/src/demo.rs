//! `watchpost demo`: the simulated cameras, an embedded SQLite file, the web UI.
//!
//! Starts `watchpost-sim --demo` as a child process, reads the cameras it serves from its
//! standard output (one JSON object per line, then `{"ready":true}`), puts them in the
//! camera inventory as ONVIF cameras at fictional Beijing sites (created, or updated when
//! the data directory already has them: the simulator's ports change between runs), prints
//! every URL, and serves until a shutdown signal. Their streams are hub paths
//! `cam/<camera>/main` and `cam/<camera>/sub`, their URIs read over ONVIF, and they answer
//! PTZ and snapshots. The simulator is killed when the demo ends, however it ends.
//!
//! It also makes one account per kind of user — a city commander, a district operator, a
//! street viewer, an enterprise viewer, and a city administrator — with random passwords,
//! new at every start, printed once and written to `<data dir>/demo-accounts.txt` (mode
//! 0600). There is no default password.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use watchpost_command::org::{Organisation, SampleLedger, load_sample};
use watchpost_config::{Config, Secret, SecretUrl};
use watchpost_devices::inventory::{
    CameraInput, Credentials, CredentialsChange, Division, ImportFormat, ImportMode, ImportRow,
    Position,
};

use crate::Server;
use crate::auth::Access;
use watchpost_command::access::{AuditContext, Jurisdiction, NewUser, Password, Role};

/// `(username, display name, role, jurisdiction)` of the demo's accounts.
fn demo_accounts() -> Vec<(&'static str, &'static str, Role, Jurisdiction)> {
    vec![
        (
            "city-commander",
            "City duty commander",
            Role::Commander,
            Jurisdiction::City,
        ),
        (
            "chaoyang-operator",
            "Chaoyang district operator",
            Role::Operator,
            Jurisdiction::District {
                district: "Chaoyang".into(),
            },
        ),
        (
            "lugouqiao-viewer",
            "Lugouqiao street office",
            Role::Viewer,
            Jurisdiction::Street {
                district: "Fengtai".into(),
                street: "Lugouqiao".into(),
            },
        ),
        (
            "tailings-viewer",
            "Tailings pond safety officer",
            Role::Viewer,
            Jurisdiction::Enterprise {
                enterprise_id: "E-110109-0001".into(),
            },
        ),
        (
            "city-admin",
            "City administrator",
            Role::Admin,
            Jurisdiction::City,
        ),
    ]
}

/// Creates the demo's accounts, or gives them new passwords when the data directory has
/// them already; returns `(username, role, jurisdiction, password)` lines and writes them to
/// `<data_dir>/demo-accounts.txt` (mode 0600).
async fn ensure_demo_accounts(access: &Access, data_dir: &Path) -> anyhow::Result<String> {
    let context = AuditContext::anonymous(None);
    let mut text = String::from(
        "# Watchpost demo accounts: new random passwords at every start of the demo.\n\
         # username            role       jurisdiction                     password\n",
    );
    for (username, display_name, role, jurisdiction) in demo_accounts() {
        let password = Password::generate(20)?;
        match access.store().get_user_by_username(username).await {
            Ok(user) => {
                access
                    .set_password(&user, password.clone(), &context)
                    .await
                    .map_err(|e| anyhow::anyhow!("resetting the demo account {username}: {e}"))?;
            }
            Err(watchpost_command::access::AccessError::NotFound { .. }) => {
                access
                    .create_user(
                        NewUser {
                            username: username.to_owned(),
                            display_name: display_name.to_owned(),
                            role,
                            jurisdiction: jurisdiction.clone(),
                            disabled: false,
                            password: password.clone(),
                        },
                        &context,
                    )
                    .await
                    .map_err(|e| anyhow::anyhow!("creating the demo account {username}: {e}"))?;
            }
            Err(e) => return Err(e.into()),
        }
        let place = match &jurisdiction {
            Jurisdiction::City => "city".to_owned(),
            Jurisdiction::District { district } => format!("district {district}"),
            Jurisdiction::Street { district, street } => format!("street {district}/{street}"),
            Jurisdiction::Enterprise { enterprise_id } => format!("enterprise {enterprise_id}"),
        };
        text.push_str(&format!(
            "{username:<21} {:<10} {place:<32} {}\n",
            role.as_str(),
            password.expose()
        ));
    }
    let path = data_dir.join("demo-accounts.txt");
    write_private(&path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(text)
}

/// Writes `content` to `path`, readable by its owner only.
fn write_private(path: &Path, content: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(content)?;
    file.sync_all()
}

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
    onvif: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// A simulated camera as the demo knows it.
#[derive(Debug)]
struct SimCamera {
    name: String,
    title: String,
    main: String,
    sub: Option<String>,
    onvif: String,
    credentials: Option<(String, Secret)>,
}

/// The fictional site a demo camera watches.
struct DemoSite {
    /// The enterprise's id in the sample ledger (`fixtures/ledger/enterprises.json`).
    enterprise_id: Option<&'static str>,
    category: &'static str,
    district: &'static str,
    street: &'static str,
    lon: f64,
    lat: f64,
}

/// `(enterprise id, category, district, street, longitude, latitude)` per demo camera.
const DEMO_SITES: [(&str, &str, &str, &str, &str, f64, f64); 4] = [
    (
        "gas-station",
        "E-110105-0001",
        "gas_station",
        "Chaoyang",
        "Jiuxianqiao",
        116.4912,
        39.9703,
    ),
    (
        "oil-depot",
        "E-110106-0001",
        "oil_depot",
        "Fengtai",
        "Lugouqiao",
        116.2135,
        39.8492,
    ),
    (
        "tailings-pond",
        "E-110109-0001",
        "tailings_pond",
        "Mentougou",
        "Longquan",
        116.1018,
        39.9421,
    ),
    (
        "fireworks-outlet",
        "E-110112-0001",
        "fireworks_retail",
        "Tongzhou",
        "Yongshun",
        116.6622,
        39.9110,
    ),
];

fn demo_site(name: &str) -> DemoSite {
    let found = DEMO_SITES.iter().find(|s| s.0 == name);
    match found {
        Some(&(_, enterprise, category, district, street, lon, lat)) => DemoSite {
            enterprise_id: Some(enterprise),
            category,
            district,
            street,
            lon,
            lat,
        },
        None => DemoSite {
            enterprise_id: None,
            category: "other",
            district: "Dongcheng",
            street: "Jingshan",
            lon: 116.3972,
            lat: 39.9169,
        },
    }
}

impl SimCamera {
    fn input(&self) -> CameraInput {
        let site = demo_site(&self.name);
        CameraInput {
            id: Some(self.name.clone()),
            name: self.title.clone(),
            category: site.category.to_owned(),
            enterprise_id: site.enterprise_id.map(str::to_owned),
            division: Division {
                district: site.district.to_owned(),
                street: Some(site.street.to_owned()),
            },
            position: Some(Position {
                lon: site.lon,
                lat: site.lat,
            }),
            vendor: Some("Watchpost".to_owned()),
            model: Some("watchpost-sim".to_owned()),
            onvif_url: Some(SecretUrl::new(self.onvif.clone())),
            credentials: match &self.credentials {
                Some((username, password)) => CredentialsChange::Set(Credentials {
                    username: username.clone(),
                    password: password.clone(),
                }),
                None => CredentialsChange::Clear,
            },
            tags: vec!["demo".to_owned()],
            ..CameraInput::default()
        }
    }
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
    config.validate().context("demo configuration")?;

    let server = Server::bind(config.clone()).await?;
    let devices = server
        .devices()
        .context("the devices service is not running")?;
    let rows = cameras
        .iter()
        .enumerate()
        .map(|(i, c)| ImportRow {
            line: i + 1,
            format: ImportFormat::Json,
            input: c.input(),
        })
        .collect();
    let report = devices.import(rows, ImportMode::Upsert).await;
    if let Some(error) = report.errors.first() {
        bail!("demo camera not added to the inventory: {error}");
    }
    let ledger =
        load_sample_ledger(server.org().context("the organisation store is not open")?).await?;
    println!(
        "Sample ledger (fictional command centres, units and enterprises, fixtures/ledger/): \
         {ledger} records added"
    );
    let accounts = ensure_demo_accounts(
        server.access().context("the access store is not open")?,
        &config.storage.data_dir,
    )
    .await?;
    print_urls(&config, &cameras, server.local_addr());
    println!(
        "Accounts (log in at /login; also in {}):",
        display_dir(&config.storage.data_dir.join("demo-accounts.txt"))
    );
    for line in accounts.lines().skip(1) {
        println!("  {}", line.trim_start_matches("# "));
    }
    println!();
    let result = server.run(shutdown).await;
    if let Err(err) = child.kill().await {
        tracing::warn!("stopping the camera simulator: {err}");
    }
    result
}

/// Loads the sample ledger (command centres, units, fictional enterprises the demo cameras
/// watch) into the command database; records that exist already are kept as they are, so
/// a restarted demo keeps what operators changed. Returns how many were created.
async fn load_sample_ledger(org: &Organisation) -> anyhow::Result<usize> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let report = load_sample(org, now_ms, &SampleLedger::embedded())
        .await
        .context("the sample ledger")?;
    for (file, error) in report.errors() {
        tracing::warn!(file, %error, "sample ledger row not loaded");
    }
    Ok(report.created())
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

async fn read_cameras(child: &mut Child) -> anyhow::Result<Vec<SimCamera>> {
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
        let (Some(name), Some(main), Some(onvif)) = (parsed.camera, parsed.main, parsed.onvif)
        else {
            bail!("simulator line without camera, main URL and ONVIF URL: {line}");
        };
        cameras.push(SimCamera {
            title: parsed.title.unwrap_or_else(|| name.clone()),
            name,
            main,
            sub: parsed.sub,
            onvif,
            credentials: parsed
                .username
                .map(|u| (u, Secret::new(parsed.password.unwrap_or_default()))),
        });
    }
    let status = child.wait().await?;
    bail!("the camera simulator exited before it was ready ({status})")
}

fn print_urls(config: &Config, cameras: &[SimCamera], http: SocketAddr) {
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
    println!("Simulated cameras (in the inventory; RTSP also playable with ffplay or VLC):");
    for camera in cameras {
        let auth = match &camera.credentials {
            Some((user, _)) => format!("  (user {user}, digest auth)"),
            None => String::new(),
        };
        let id = &camera.name;
        println!("  {id:<18} main {}{auth}", camera.main);
        println!(
            "  {:<18}      watch {base}/play/cam/{id}/main  (WHEP {base}/whep/cam/{id}/main)",
            ""
        );
        if let Some(sub) = &camera.sub {
            println!("  {:<18} sub  {sub}", "");
            println!("  {:<18}      watch {base}/play/cam/{id}/sub", "");
        }
        println!("  {:<18} ONVIF {}", "", camera.onvif);
        println!(
            "  {:<18}      snapshot {base}/api/v1/cameras/{id}/snapshot, PTZ POST {base}/api/v1/cameras/{id}/ptz",
            ""
        );
    }
    println!();
}

fn display_dir(dir: &Path) -> String {
    std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .display()
        .to_string()
}

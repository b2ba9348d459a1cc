//! The configuration as an operator meets it: the example file, bad values, unknown keys,
//! environment overrides, and secrets that must never print.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use watchpost_config::{
    CameraConfig, CameraPolicy, Config, ConfigError, IceServerConfig, Origin, RtspTransport,
    Secret, SecretUrl, load_with_env,
};

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("watchpost.example.toml")
}

/// Writes `text` to a fresh file and loads it with `env`.
fn load_text(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = std::env::temp_dir().join(format!("watchpost-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("t{n}.toml"));
    std::fs::write(&path, text).unwrap();
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    let result = load_with_env(Some(&path), env);
    std::fs::remove_file(&path).unwrap();
    result
}

/// The single problem of a failed load, as `(origin, key, message)`.
fn one_problem(result: Result<Config, ConfigError>) -> (Origin, String, String) {
    let err = result.expect_err("expected the configuration to be rejected");
    assert_eq!(err.problems.len(), 1, "{err}");
    let p = err.problems.into_iter().next().unwrap();
    (p.origin, p.key, p.message)
}

fn example_camera() -> CameraConfig {
    CameraConfig {
        name: "gas-station-01".into(),
        title: "Gas station 01 - pump island".into(),
        main_url: SecretUrl::new("rtsp://192.0.2.10:554/Streaming/Channels/101"),
        sub_url: Some(SecretUrl::new(
            "rtsp://192.0.2.10:554/Streaming/Channels/102",
        )),
        username: Some("viewer".into()),
        password: Some(Secret::new("change-me")),
        transport: RtspTransport::Tcp,
        always_on: false,
        policies: Vec::new(),
    }
}

#[test]
fn example_parses_to_the_defaults_plus_its_camera() {
    let config = load_with_env(Some(&example_path()), []).expect("example must load");
    let expected = Config {
        cameras: vec![example_camera()],
        ..Config::default()
    };
    assert_eq!(config, expected);
}

/// Every key the program knows appears in the example, so the reference cannot fall behind.
#[test]
fn example_documents_every_key() {
    let text = std::fs::read_to_string(example_path()).unwrap();
    // Keys that the example shows only in comments (they have no default value).
    let uncommented: String = text
        .lines()
        .map(|l| l.trim_start().trim_start_matches("# "))
        .collect::<Vec<_>>()
        .join("\n");
    let mut full = Config {
        cameras: vec![example_camera()],
        ..Config::default()
    };
    full.storage.database_url = Some(SecretUrl::new("postgres://u:p@h/d"));
    full.webrtc.ice_servers = vec![IceServerConfig {
        urls: vec!["turn:x:3478".into()],
        username: Some("u".into()),
        credential: Some(Secret::new("c")),
    }];
    let value = serde_json::to_value(&full).unwrap();
    let mut keys = Vec::new();
    collect_keys(&value, "", &mut keys);
    assert!(keys.len() > 25, "{keys:?}");
    for key in keys {
        let leaf = key.rsplit('.').next().unwrap();
        let section = key.rsplit_once('.').map_or("", |(s, _)| s);
        let header = format!("[{section}]");
        let array_header = format!("[[{section}]]");
        assert!(
            section.is_empty()
                || uncommented.contains(&header)
                || uncommented.contains(&array_header)
                || section.split('.').count() == 1 && uncommented.contains(&format!("[{section}.")),
            "section of {key} is not documented"
        );
        assert!(
            uncommented.contains(&format!("\n{leaf} = ")),
            "key {key} is not documented in watchpost.example.toml"
        );
    }
}

fn collect_keys(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                match v {
                    serde_json::Value::Object(_) => collect_keys(v, &key, out),
                    serde_json::Value::Array(items)
                        if items.iter().all(|i| i.is_object()) && !items.is_empty() =>
                    {
                        collect_keys(&items[0], &key, out)
                    }
                    _ => out.push(key),
                }
            }
        }
        _ => unreachable!("config serializes as a table"),
    }
}

#[test]
fn bad_duration_names_file_key_and_why() {
    let (origin, key, message) =
        one_problem(load_text("[media.on_demand]\nlinger = \"ten\"\n", &[]));
    assert!(matches!(origin, Origin::File(_)));
    assert_eq!(key, "media.on_demand.linger");
    assert_eq!(message, "expected a duration like \"10s\", got \"ten\"");
    let err = load_text("[media.on_demand]\nlinger = \"ten\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            ".toml: media.on_demand.linger: expected a duration like \"10s\", got \"ten\""
        ),
        "{err}"
    );

    let (_, key, message) = one_problem(load_text("[media.retry]\nmax_backoff = 30\n", &[]));
    assert_eq!(key, "media.retry.max_backoff");
    assert_eq!(
        message,
        "expected a duration like \"10s\", got 30 (a number without a unit)"
    );
}

#[test]
fn each_kind_of_bad_value_is_named() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[server]\nhttp_listen = \"localhost\"\n",
            "server.http_listen",
            "expected an address like \"127.0.0.1:8080\", got \"localhost\"",
        ),
        (
            "[media.gop_cache]\nmax_bytes = \"lots\"\n",
            "media.gop_cache.max_bytes",
            "expected a size like \"8MiB\", got \"lots\"",
        ),
        (
            "[media.reader]\nqueue_frames = \"many\"\n",
            "media.reader.queue_frames",
            "invalid type: string \"many\", expected usize",
        ),
        (
            "[media.reader]\nqueue_frames = 2\n",
            "media.reader.queue_frames",
            "expected 8 to 65536 frames, got 2",
        ),
        (
            "[media.retry]\njitter = 1.5\n",
            "media.retry.jitter",
            "expected a fraction from 0.0 up to (not including) 1.0, got 1.5",
        ),
        (
            "[media.retry]\ninitial_backoff = \"5s\"\nmax_backoff = \"1s\"\n",
            "media.retry.max_backoff",
            "must not be shorter than media.retry.initial_backoff",
        ),
        (
            "[log]\nformat = \"xml\"\n",
            "log.format",
            "unknown variant `xml`, expected `text` or `json`",
        ),
        (
            "[log]\nlevel = \"loud\"\n",
            "log.level",
            "expected a level (trace, debug, info, warn, error, off) or target=level directives, got \"loud\"",
        ),
        (
            "[storage]\ndatabase_url = \"mysql://u:pw@h/db\"\n",
            "storage.database_url",
            "expected a sqlite: or postgres:// URL, got \"mysql://u:***@h/db\"",
        ),
        (
            "[[cameras]]\nname = \"Cam 1\"\nmain_url = \"rtsp://h/x\"\n",
            "cameras[0].name",
            "\"Cam 1\" is not a valid camera name: 1 to 64 characters: lowercase letters, digits, '-' and '_', starting with a letter or digit",
        ),
        (
            "[[cameras]]\nname = \"c\"\nmain_url = \"http://h/x\"\n",
            "cameras[0].main_url",
            "expected an rtsp:// or rtsps:// URL, got scheme \"http\"",
        ),
        (
            "[[cameras]]\nname = \"c\"\nmain_url = \"rtsp://h/x\"\ntransport = \"sctp\"\n",
            "cameras[0].transport",
            "unknown variant `sctp`, expected `tcp` or `udp`",
        ),
        (
            "[[cameras]]\nname = \"c\"\n",
            "cameras[0]",
            "missing field `main_url`",
        ),
        (
            "[[cameras]]\nname = \"c\"\nmain_url = \"rtsp://h/x\"\nalways_on = \"yes\"\n",
            "cameras[0].always_on",
            "invalid type: string \"yes\", expected a boolean",
        ),
    ];
    for (text, want_key, want_message) in cases {
        let (origin, key, message) = one_problem(load_text(text, &[]));
        assert!(matches!(origin, Origin::File(_)), "{text}: {origin:?}");
        assert_eq!(
            (key.as_str(), message.as_str()),
            (*want_key, *want_message),
            "{text}"
        );
    }
}

#[test]
fn all_problems_are_reported_at_once() {
    let text = "[[cameras]]\nname = \"a\"\nmain_url = \"rtsp://h/1\"\n\
                [[cameras]]\nname = \"a\"\nmain_url = \"ftp://h/2\"\n\
                [media.on_demand]\nstart_timeout = \"0s\"\n";
    let err = load_text(text, &[]).unwrap_err();
    let keys: Vec<_> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "media.on_demand.start_timeout",
            "cameras[1].name",
            "cameras[1].main_url"
        ],
        "{err}"
    );
}

#[test]
fn unknown_keys_are_rejected() {
    let (_, key, message) = one_problem(load_text("[media.on_demand]\nlingr = \"5s\"\n", &[]));
    assert_eq!(key, "media.on_demand.lingr");
    assert!(
        message.starts_with("unknown field `lingr`, expected"),
        "{message}"
    );

    let (_, key, message) =
        one_problem(load_text("[servre]\nhttp_listen = \"127.0.0.1:1\"\n", &[]));
    assert_eq!(key, "servre");
    assert!(message.starts_with("unknown field `servre`"), "{message}");

    let (origin, key, _) = one_problem(load_text("", &[("WATCHPOST__SERVER__PORT", "80")]));
    assert_eq!(origin, Origin::Env("WATCHPOST__SERVER__PORT".into()));
    assert_eq!(key, "server.port");
}

#[test]
fn syntax_errors_give_line_and_column() {
    let (origin, key, message) = one_problem(load_text("[server]\nhttp_listen = \n", &[]));
    assert!(matches!(origin, Origin::File(_)));
    assert_eq!(key, "");
    assert!(message.starts_with("line 2, column "), "{message}");
}

#[test]
fn missing_file_is_an_error_that_names_it() {
    let err = load_with_env(Some(Path::new("/nonexistent/watchpost.toml")), []).unwrap_err();
    assert_eq!(
        err.problems[0].origin,
        Origin::File("/nonexistent/watchpost.toml".into())
    );
    assert!(err.to_string().contains("cannot read the file"), "{err}");
}

#[test]
fn environment_overrides_the_file() {
    let config = load_text(
        "[media.on_demand]\nlinger = \"5s\"\nstart_timeout = \"3s\"\n",
        &[
            ("WATCHPOST__MEDIA__ON_DEMAND__LINGER", "7s"),
            ("WATCHPOST__SERVER__HTTP_LISTEN", "127.0.0.1:9999"),
            ("WATCHPOST__MEDIA__READER__QUEUE_FRAMES", "64"),
            (
                "WATCHPOST__WEBRTC__ADVERTISED_ADDRESSES",
                "[\"203.0.113.7\"]",
            ),
            ("UNRELATED", "x"),
        ],
    )
    .unwrap();
    assert_eq!(config.media.on_demand.linger, Duration::from_secs(7));
    assert_eq!(config.media.on_demand.start_timeout, Duration::from_secs(3));
    assert_eq!(config.server.http_listen.port(), 9999);
    assert_eq!(config.media.reader.queue_frames, 64);
    assert_eq!(
        config.webrtc.advertised_addresses,
        ["203.0.113.7".parse::<std::net::IpAddr>().unwrap()]
    );

    let (origin, key, message) = one_problem(load_text(
        "[media.on_demand]\nlinger = \"5s\"\n",
        &[("WATCHPOST__MEDIA__ON_DEMAND__LINGER", "ten")],
    ));
    assert_eq!(
        origin,
        Origin::Env("WATCHPOST__MEDIA__ON_DEMAND__LINGER".into())
    );
    assert_eq!(key, "media.on_demand.linger");
    assert_eq!(message, "expected a duration like \"10s\", got \"ten\"");

    let (origin, _, message) = one_problem(load_text(
        "[[cameras]]\nname = \"c\"\nmain_url = \"rtsp://h/x\"\n",
        &[("WATCHPOST__CAMERAS__NAME", "x")],
    ));
    assert_eq!(origin, Origin::Env("WATCHPOST__CAMERAS__NAME".into()));
    assert!(message.contains("can only be set in the file"), "{message}");
}

#[test]
fn no_file_means_defaults() {
    let config = load_with_env(None, []).unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(config.server.http_listen.to_string(), "127.0.0.1:8080");
    assert!(
        config
            .storage
            .effective_database_url()
            .expose()
            .starts_with("sqlite://data/watchpost.db")
    );
}

#[test]
fn secrets_never_print() {
    let config = load_text(
        "[storage]\ndatabase_url = \"postgres://wp:db-s3cret@127.0.0.1/test\"\n\
         [[webrtc.ice_servers]]\nurls = [\"turn:127.0.0.1:3478\"]\nusername = \"u\"\ncredential = \"turn-s3cret\"\n\
         [[cameras]]\nname = \"c\"\nmain_url = \"rtsp://admin:url-s3cret@127.0.0.1/x\"\n\
         [[cameras]]\nname = \"d\"\nmain_url = \"rtsp://127.0.0.1/y\"\nusername = \"admin\"\n",
        &[("WATCHPOST__STORAGE__DATA_DIR", "d"), ("WATCHPOST__LOG__LEVEL", "debug")],
    )
    .unwrap();
    let mut config = config;
    config.cameras[1].password = Some(Secret::new("field-s3cret"));
    assert_eq!(
        config.cameras[0].main_url.expose(),
        "rtsp://admin:url-s3cret@127.0.0.1/x"
    );
    assert_eq!(
        config.cameras[1].password.as_ref().unwrap().expose(),
        "field-s3cret"
    );

    let printed = [
        format!("{config:?}"),
        format!("{config:#?}"),
        serde_json::to_string(&config).unwrap(),
        toml::to_string(&config).unwrap(),
        config.cameras[0].main_url.to_string(),
        config.storage.effective_database_url().to_string(),
    ];

    // And through the log pipeline, as the server would log it.
    let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = {
        let buffer = buffer.clone();
        move || BufWriter(buffer.clone())
    };
    let subscriber = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_max_level(tracing::Level::TRACE)
        .json()
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(?config, "loaded");
        tracing::info!(url = %config.cameras[0].main_url, password = %config.cameras[1].password.as_ref().unwrap(), "camera");
    });
    let logged = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("loaded") && logged.contains("rtsp://admin:***@127.0.0.1/x"),
        "{logged}"
    );

    for text in printed.iter().chain([&logged]) {
        for secret in ["db-s3cret", "turn-s3cret", "url-s3cret", "field-s3cret"] {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
    }
}

struct BufWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for BufWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn camera_policies_parse_by_name_and_unknown_ones_are_errors() {
    let names: Vec<String> = CameraPolicy::ALL
        .iter()
        .map(|p| format!("{:?}", p.as_str()))
        .collect();
    let text = format!(
        "[[cameras]]\nname = \"c\"\nmain_url = \"rtsp://h/x\"\npolicies = [{}]\n",
        names.join(", ")
    );
    let config = load_text(&text, &[]).unwrap();
    assert_eq!(config.cameras[0].policies, CameraPolicy::ALL);
    for policy in CameraPolicy::ALL {
        assert_eq!(policy.to_string(), policy.as_str());
        assert_eq!(
            serde_json::to_value(policy).unwrap(),
            serde_json::Value::from(policy.as_str())
        );
    }

    let default = load_text(
        "[[cameras]]\nname = \"c\"\nmain_url = \"rtsp://h/x\"\n",
        &[],
    );
    assert!(default.unwrap().cameras[0].policies.is_empty());

    let (origin, key, message) = one_problem(load_text(
        "[[cameras]]\nname = \"c\"\nmain_url = \"rtsp://h/x\"\npolicies = [\"reboot-often\"]\n",
        &[],
    ));
    assert!(matches!(origin, Origin::File(_)), "{origin:?}");
    assert!(key.starts_with("cameras[0].policies"), "{key}");
    assert!(
        message.contains("reboot-often") && message.contains("use-first-session-id"),
        "{message}"
    );
}

#[test]
fn devices_credential_key_is_checked_and_never_printed() {
    let key = "q3JXq6d0ZQ8m0r5m7cHfJc1k9q9v3T0pQmJ9s0Yy1/A=";
    let config = load_text(&format!("[devices]\ncredential_key = \"{key}\"\n"), &[]).unwrap();
    assert_eq!(
        config.devices.credential_key.as_ref().unwrap().expose(),
        key
    );
    let printed = format!(
        "{config:?} {} {}",
        serde_json::to_string(&config).unwrap(),
        toml::to_string(&config).unwrap()
    );
    assert!(!printed.contains(key), "{printed}");

    let env = load_text("", &[("WATCHPOST__DEVICES__CREDENTIAL_KEY", key)]).unwrap();
    assert_eq!(env.devices.credential_key.unwrap().expose(), key);

    for bad in [
        "c2hvcnQ=",
        "not base64 at all, but exactly 44 characters",
        "",
    ] {
        let (origin, problem_key, message) = one_problem(load_text(
            &format!("[devices]\ncredential_key = \"{bad}\"\n"),
            &[],
        ));
        assert!(matches!(origin, Origin::File(_)), "{origin:?}");
        assert_eq!(problem_key, "devices.credential_key");
        assert!(
            message.starts_with("expected the standard base64 of 32 random bytes"),
            "{message}"
        );
        assert!(bad.is_empty() || !message.contains(bad), "{message}");
    }
}

#[test]
fn tls_cert_and_key_come_together() {
    let (_, key, message) = one_problem(load_text(
        "[server]\ntls_cert = \"/etc/watchpost/cert.pem\"\n",
        &[],
    ));
    assert_eq!(key, "server.tls_key");
    assert!(
        message.starts_with("must be set when server.tls_cert is"),
        "{message}"
    );

    let (origin, key, message) = one_problem(load_text(
        "",
        &[("WATCHPOST__SERVER__TLS_KEY", "/etc/watchpost/key.pem")],
    ));
    assert_eq!(key, "server.tls_cert");
    assert!(
        message.starts_with("must be set when server.tls_key is"),
        "{message}"
    );
    assert_eq!(origin, Origin::Default);

    let (origin, key, message) = one_problem(load_text(
        "[server]\ntls_cert = \"/c.pem\"\n",
        &[("WATCHPOST__SERVER__TLS_KEY", "")],
    ));
    assert_eq!(origin, Origin::Env("WATCHPOST__SERVER__TLS_KEY".into()));
    assert_eq!(key, "server.tls_key");
    assert!(message.starts_with("must not be empty"), "{message}");

    let config = load_text(
        "[server]\ntls_cert = \"/etc/watchpost/cert.pem\"\n",
        &[("WATCHPOST__SERVER__TLS_KEY", "/etc/watchpost/key.pem")],
    )
    .unwrap();
    assert_eq!(
        config.server.tls_cert.as_deref(),
        Some(Path::new("/etc/watchpost/cert.pem"))
    );
    assert_eq!(
        config.server.tls_key.as_deref(),
        Some(Path::new("/etc/watchpost/key.pem"))
    );
    let mut built = Config::default();
    built.server.tls_cert = Some("cert.pem".into());
    let err = built.validate().unwrap_err().to_string();
    assert!(err.contains("server.tls_key: must be set"), "{err}");
}

//! Janus 1.1.2 (Debian's `janus`) as the benchmark's reference peer: one RTSP mountpoint of
//! the streaming plugin, its HTTP API on loopback, started and stopped by the benchmark.
//!
//! [`JanusServer::start`] writes a private configuration folder (`janus.jcfg`, the HTTP
//! transport, the streaming plugin with ONE `rtsp` mountpoint), starts
//! `janus --configs-folder DIR` with its output in `DIR/janus.log`, waits until
//! `GET /janus/info` answers and the mountpoint receives the camera's media, and stops it
//! with SIGTERM (then SIGKILL) on [`JanusServer::stop`] or drop. Only the streaming plugin
//! and the HTTP transport are loaded (every other plugin, transport and logger found in the
//! library folder is disabled), no STUN/TURN, no event handlers, no admin API.
//!
//! # Keeping Janus on loopback
//!
//! Janus 1.1.2 cannot be confined to loopback by configuration alone:
//!
//! - its ICE gathering (`ice.c`) skips every interface flagged `IFF_LOOPBACK` before it
//!   looks at `ice_enforce_list`, so `ice_enforce_list = "lo"` (or `"127.0.0.1"`) leaves
//!   no address and libnice falls back to *all* non-loopback addresses (on the bench
//!   machine: 192.0.2.2, fd00::2 and a link-local one — exactly what must not be used);
//! - the streaming plugin's RTSP client binds its RTP/RTCP receive ports to the wildcard
//!   address whatever `rtspiface` says (the parsed interface is not passed on).
//!
//! And one camera quirk: Janus keeps an RTSP session alive (OPTIONS) only when the camera's
//! `Session:` header names a `timeout=`, which gst-rtsp-server (the simulator) leaves out
//! for its default of 60 s — so the camera drops the session after a minute, the video
//! stops and Janus reconnects 5 s later. `rtsp_session_timeout = 20` makes Janus send
//! OPTIONS every 20 s.
//!
//! So Janus runs with a tiny `LD_PRELOAD` library, compiled here with `cc` from
//! [`LOOPBACK_SHIM_C`]: its `getifaddrs` clears `IFF_LOOPBACK`, so Janus gathers its one
//! host candidate on 127.0.0.1 (`ice_enforce_list = "127.0.0.1"`), and its `bind` turns a
//! wildcard bind into a loopback bind (`::` into `::ffff:127.0.0.1` on Janus's dual-stack
//! sockets). Nothing on Janus's media path is touched.
//!
//! This file uses the standard library only and no item of its crate, so that fixtures'
//! `tests/janus.rs` includes it with `#[path]` and tests the very launcher the benchmark
//! runs.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the server.
pub const JANUS_BINARY: &str = "/usr/bin/janus";

/// The `LD_PRELOAD` library that keeps Janus on loopback (see the module documentation).
pub const LOOPBACK_SHIM_C: &str = r#"/* Keeps Janus on loopback (watchpost xtask/src/bench_janus.rs). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* Janus skips loopback interfaces when it gathers ICE candidates: hide the flag. */
int getifaddrs(struct ifaddrs **ifap) {
	static int (*real)(struct ifaddrs **);
	if (!real)
		real = (int (*)(struct ifaddrs **))dlsym(RTLD_NEXT, "getifaddrs");
	int rc = real(ifap);
	if (rc == 0)
		for (struct ifaddrs *i = *ifap; i; i = i->ifa_next)
			i->ifa_flags &= ~IFF_LOOPBACK;
	return rc;
}

/* The streaming plugin binds its RTSP receive ports to the wildcard address. */
int bind(int fd, const struct sockaddr *addr, socklen_t len) {
	static int (*real)(int, const struct sockaddr *, socklen_t);
	if (!real)
		real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
	if (addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in a;
		memcpy(&a, addr, sizeof a);
		if (a.sin_addr.s_addr == htonl(INADDR_ANY)) {
			a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			return real(fd, (const struct sockaddr *)&a, sizeof a);
		}
	} else if (addr && addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 a;
		memcpy(&a, addr, sizeof a);
		if (IN6_IS_ADDR_UNSPECIFIED(&a.sin6_addr)) {
			static const unsigned char mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
			memcpy(&a.sin6_addr, mapped, sizeof mapped);
			return real(fd, (const struct sockaddr *)&a, sizeof a);
		}
	}
	return real(fd, addr, len);
}
"#;

/// How to run Janus.
#[derive(Debug, Clone)]
pub struct JanusOptions {
    /// The camera the mountpoint pulls (`rtsp://…`; Janus's RTSP client uses RTP over UDP).
    pub rtsp_url: String,
    /// Whether the mountpoint relays the camera's audio track too (video always).
    pub audio: bool,
    /// The mountpoint's numeric id.
    pub mountpoint_id: u64,
    /// The private folder for the configuration, the shim and `janus.log` (created; files
    /// in it are overwritten), e.g. `target/bench/janus`.
    pub work_dir: PathBuf,
    /// The server binary.
    pub binary: PathBuf,
    /// Janus's library folder (`plugins/`, `transports/`, …); found when `None`.
    pub lib_dir: Option<PathBuf>,
    /// Janus's `debug_level` (0–7; 4 is Janus's default).
    pub debug_level: u8,
    /// Janus's `session_timeout` in seconds (60 is its default; 0 disables it): a viewer
    /// must send a keepalive more often than that.
    pub session_timeout_secs: u32,
    /// Janus's `event_loops`: 0 (its default) gives every handle its own thread and
    /// GLib loop; N shares N static loops among all handles.
    pub event_loops: u32,
    /// The mountpoint's `threads` (helper threads relaying to viewers; 0 = none, the
    /// default).
    pub relay_threads: u32,
    /// The mountpoint's `videobufferkf`: send new viewers the latest key frame at once
    /// (off by default, as in Janus).
    pub buffer_keyframe: bool,
    /// Pins Janus (all its threads) to this CPU with `taskset -c` (which execs Janus, so
    /// [`JanusServer::pid`] stays Janus's).
    pub cpu: Option<u32>,
    /// How long to wait for the HTTP API and the mountpoint's first media.
    pub startup_timeout: Duration,
}

impl JanusOptions {
    /// Janus's defaults, audio included, mountpoint id 1.
    pub fn new(rtsp_url: impl Into<String>, work_dir: impl Into<PathBuf>) -> JanusOptions {
        JanusOptions {
            rtsp_url: rtsp_url.into(),
            audio: true,
            mountpoint_id: 1,
            work_dir: work_dir.into(),
            binary: PathBuf::from(JANUS_BINARY),
            lib_dir: None,
            debug_level: 4,
            session_timeout_secs: 60,
            event_loops: 0,
            relay_threads: 0,
            buffer_keyframe: false,
            cpu: None,
            startup_timeout: Duration::from_secs(20),
        }
    }
}

/// A running Janus; stopped on drop.
#[derive(Debug)]
pub struct JanusServer {
    child: Option<Child>,
    port: u16,
    mountpoint_id: u64,
    log: PathBuf,
}

impl JanusServer {
    /// Writes the configuration, starts Janus and waits until its HTTP API answers and
    /// the mountpoint receives media from the camera.
    pub fn start(opts: &JanusOptions) -> Result<JanusServer, String> {
        if !opts.binary.is_file() {
            return Err(format!(
                "{} not found (install the Debian package `janus`)",
                opts.binary.display()
            ));
        }
        let lib_dir = match &opts.lib_dir {
            Some(dir) => dir.clone(),
            None => find_lib_dir()?,
        };
        let conf = opts.work_dir.join("conf");
        fs::create_dir_all(&conf).map_err(|e| format!("cannot create {}: {e}", conf.display()))?;
        let shim = build_shim(&opts.work_dir)?;
        let log = opts.work_dir.join("janus.log");
        // A free port may be taken between our probe and Janus's bind: Janus then exits
        // ("Couldn't start webserver"), and we try another.
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            write_config(opts, &lib_dir, &conf, port)?;
            let out = fs::File::create(&log)
                .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
            let err = out
                .try_clone()
                .map_err(|e| format!("cannot share {}: {e}", log.display()))?;
            let mut cmd = match opts.cpu {
                Some(cpu) => {
                    let mut cmd = Command::new("taskset");
                    cmd.arg("-c").arg(cpu.to_string()).arg(&opts.binary);
                    cmd
                }
                None => Command::new(&opts.binary),
            };
            let child = cmd
                .arg("--configs-folder")
                .arg(&conf)
                .env("LD_PRELOAD", &shim)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .map_err(|e| {
                    let program = cmd.get_program().to_string_lossy().into_owned();
                    format!("cannot start {program} ({}): {e}", opts.binary.display())
                })?;
            let mut server = JanusServer {
                child: Some(child),
                port,
                mountpoint_id: opts.mountpoint_id,
                log: log.clone(),
            };
            match server.wait_ready(opts.startup_timeout) {
                Ok(()) => return Ok(server),
                Err(Startup::PortTaken) => {
                    last_error = format!("port {port} was taken");
                    let _ = server.stop();
                }
                Err(Startup::Failed(e)) => {
                    let _ = server.stop();
                    return Err(format!("{e}\n{}", log_tail(&log)));
                }
            }
        }
        Err(format!("Janus could not start its HTTP API: {last_error}"))
    }

    /// Janus's process id (for `/proc/<pid>/stat`).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The Janus API's base URL, `http://127.0.0.1:PORT/janus`.
    pub fn http_base(&self) -> String {
        format!("http://127.0.0.1:{}/janus", self.port)
    }

    /// The RTSP mountpoint's id (the `id` of a `watch` request).
    pub fn mountpoint_id(&self) -> u64 {
        self.mountpoint_id
    }

    /// Janus's log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Stops Janus: SIGTERM, up to 10 s for it to finish, then SIGKILL. Returns its exit
    /// status, or an error when it had to be killed.
    pub fn stop(&mut self) -> Result<ExitStatus, String> {
        let Some(mut child) = self.child.take() else {
            return Err("Janus was already stopped".into());
        };
        if let Ok(Some(status)) = child.try_wait() {
            return Ok(status);
        }
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(format!("cannot wait for Janus: {e}")),
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        Err("Janus ignored SIGTERM for 10 s and was killed".into())
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), Startup> {
        let deadline = Instant::now() + timeout;
        let addr = format!("127.0.0.1:{}", self.port);
        let mut api_up = false;
        let mut last = String::from("no answer yet");
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let log = fs::read_to_string(&self.log).unwrap_or_default();
                if log.contains("Couldn't start webserver") {
                    return Err(Startup::PortTaken);
                }
                return Err(Startup::Failed(format!(
                    "Janus exited at start-up ({status})"
                )));
            }
            if !api_up {
                match http(&addr, "GET", "/janus/info", None) {
                    Ok(body) if body.contains("\"server_info\"") => api_up = true,
                    Ok(body) => last = format!("GET /janus/info answered {body}"),
                    Err(e) => last = e,
                }
            }
            if api_up {
                match self.mountpoint_media_age(&addr) {
                    Ok(Some(age)) if age < 2000 => return Ok(()),
                    Ok(_) => last = "the mountpoint has no media from the camera yet".into(),
                    Err(e) => last = e,
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(Startup::Failed(format!(
            "Janus not ready within {timeout:?}: {last}"
        )))
    }

    /// The age of the mountpoint's oldest last packet in ms (streaming plugin `info`),
    /// `None` while it has no stream.
    fn mountpoint_media_age(&self, addr: &str) -> Result<Option<u64>, String> {
        let created = http(
            addr,
            "POST",
            "/janus",
            Some(r#"{"janus":"create","transaction":"xtask-create"}"#),
        )?;
        let session = data_id(&created).ok_or_else(|| format!("create answered {created}"))?;
        let result = (|| {
            let attached = http(
                addr,
                "POST",
                &format!("/janus/{session}"),
                Some(
                    r#"{"janus":"attach","plugin":"janus.plugin.streaming","transaction":"xtask-attach"}"#,
                ),
            )?;
            let handle = data_id(&attached).ok_or_else(|| format!("attach answered {attached}"))?;
            let info = http(
                addr,
                "POST",
                &format!("/janus/{session}/{handle}"),
                Some(&format!(
                    r#"{{"janus":"message","transaction":"xtask-info","body":{{"request":"info","id":{}}}}}"#,
                    self.mountpoint_id
                )),
            )?;
            if info.contains("\"error_code\"") {
                return Err(format!(
                    "mountpoint {} is missing (did Janus reach the camera?): {info}",
                    self.mountpoint_id
                ));
            }
            Ok(number_fields(&info, "age_ms").into_iter().max())
        })();
        let _ = http(
            addr,
            "POST",
            &format!("/janus/{session}"),
            Some(r#"{"janus":"destroy","transaction":"xtask-destroy"}"#),
        );
        result
    }
}

impl Drop for JanusServer {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.stop();
        }
    }
}

enum Startup {
    PortTaken,
    Failed(String),
}

/// `/usr/lib/<multiarch>/janus` (the folder with `plugins/libjanus_streaming.so`).
fn find_lib_dir() -> Result<PathBuf, String> {
    let mut candidates = vec![
        PathBuf::from("/usr/lib/janus"),
        PathBuf::from("/usr/local/lib/janus"),
        PathBuf::from("/opt/janus/lib/janus"),
    ];
    if let Ok(entries) = fs::read_dir("/usr/lib") {
        candidates.extend(entries.filter_map(|e| e.ok().map(|e| e.path().join("janus"))));
    }
    candidates
        .into_iter()
        .find(|d| d.join("plugins").join("libjanus_streaming.so").is_file())
        .ok_or_else(|| {
            "no Janus library folder with plugins/libjanus_streaming.so under /usr/lib".into()
        })
}

/// Compiles [`LOOPBACK_SHIM_C`] into `work_dir` unless the same source is built there.
fn build_shim(work_dir: &Path) -> Result<PathBuf, String> {
    let src = work_dir.join("loopback-shim.c");
    let lib = work_dir.join("libloopback-shim.so");
    let current = fs::read_to_string(&src).is_ok_and(|s| s == LOOPBACK_SHIM_C);
    if current && lib.is_file() {
        return Ok(lib);
    }
    fs::write(&src, LOOPBACK_SHIM_C).map_err(|e| format!("cannot write {}: {e}", src.display()))?;
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&lib)
        .arg(&src)
        .arg("-ldl")
        .output()
        .map_err(|e| format!("cannot run cc to build Janus's loopback shim: {e}"))?;
    if !out.status.success() {
        let _ = fs::remove_file(&lib);
        return Err(format!(
            "cc could not build {}: {}",
            lib.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(lib)
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot pick a port: {e}"))
}

/// `name.so` files in `dir` other than `keep`, comma-separated (Janus's `disable` lists).
fn others(dir: &Path, keep: &str) -> String {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".so") && n != keep)
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.join(",")
}

fn write_config(opts: &JanusOptions, lib_dir: &Path, conf: &Path, port: u16) -> Result<(), String> {
    let q = |p: &Path| quote(&p.to_string_lossy());
    let mut janus = String::new();
    let _ = write!(
        janus,
        "# Written by watchpost's xtask (bench_janus.rs) for one benchmark run.\n\
         general: {{\n\
         \tconfigs_folder = {conf}\n\
         \tplugins_folder = {plugins}\n\
         \ttransports_folder = {transports}\n\
         \tevents_folder = {events}\n\
         \tloggers_folder = {loggers}\n\
         \tdebug_level = {debug}\n\
         \tdebug_timestamps = true\n\
         \tdebug_colors = false\n\
         \tinterface = \"127.0.0.1\"\n\
         \tsession_timeout = {timeout}\n\
         \tserver_name = \"watchpost-bench\"\n",
        conf = q(conf),
        plugins = q(&lib_dir.join("plugins")),
        transports = q(&lib_dir.join("transports")),
        events = q(&lib_dir.join("events")),
        loggers = q(&lib_dir.join("loggers")),
        debug = opts.debug_level.min(7),
        timeout = opts.session_timeout_secs,
    );
    if opts.event_loops > 0 {
        let _ = writeln!(janus, "\tevent_loops = {}", opts.event_loops);
    }
    let _ = write!(
        janus,
        "}}\n\
         certificates: {{\n}}\n\
         media: {{\n}}\n\
         nat: {{\n\
         \tnice_debug = false\n\
         \tignore_mdns = true\n\
         \tice_enforce_list = \"127.0.0.1\"\n\
         }}\n\
         plugins: {{\n\tdisable = {plugins}\n}}\n\
         transports: {{\n\tdisable = {transports}\n}}\n\
         loggers: {{\n\tdisable = {loggers}\n}}\n\
         events: {{\n\tbroadcast = false\n}}\n",
        plugins = quote(&others(&lib_dir.join("plugins"), "libjanus_streaming.so")),
        transports = quote(&others(&lib_dir.join("transports"), "libjanus_http.so")),
        loggers = quote(&others(&lib_dir.join("loggers"), "")),
    );
    let http = format!(
        "general: {{\n\
         \tjson = \"compact\"\n\
         \tbase_path = \"/janus\"\n\
         \thttp = true\n\
         \tip = \"127.0.0.1\"\n\
         \tport = {port}\n\
         \thttps = false\n\
         }}\n\
         admin: {{\n\
         \tadmin_http = false\n\
         \tadmin_https = false\n\
         }}\n"
    );
    let mut streaming = format!(
        "general: {{\n\
         \tevents = false\n\
         }}\n\
         bench: {{\n\
         \ttype = \"rtsp\"\n\
         \tid = {id}\n\
         \tdescription = \"watchpost benchmark camera\"\n\
         \tvideo = true\n\
         \taudio = {audio}\n\
         \turl = {url}\n\
         \trtsp_failcheck = true\n\
         \trtsp_reconnect_delay = 5\n\
         \trtsp_session_timeout = 20\n",
        id = opts.mountpoint_id,
        audio = opts.audio,
        url = quote(&opts.rtsp_url),
    );
    if opts.relay_threads > 0 {
        let _ = writeln!(streaming, "\tthreads = {}", opts.relay_threads);
    }
    if opts.buffer_keyframe {
        streaming.push_str("\tvideobufferkf = true\n");
    }
    streaming.push_str("}\n");
    for (name, text) in [
        ("janus.jcfg", janus),
        ("janus.transport.http.jcfg", http),
        ("janus.plugin.streaming.jcfg", streaming),
    ] {
        let path = conf.join(name);
        fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// A libconfig string literal.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One HTTP/1.1 request to Janus on loopback; the body of a 200 answer.
fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> Result<String, String> {
    let timeout = Duration::from_secs(2);
    let sock = addr
        .parse()
        .map_err(|e| format!("bad address {addr}: {e}"))?;
    let mut stream = TcpStream::connect_timeout(&sock, timeout)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("socket options: {e}"))?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{method} {path}: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("{method} {path}: {e}"))?;
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{method} {path}: no HTTP answer"))?;
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200 ") {
        return Err(format!("{method} {path}: {status}"));
    }
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    Ok(if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
        else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].strip_prefix("\r\n").unwrap_or(&rest[size..]);
    }
    out
}

/// `data.id` of a compact Janus `success` answer.
fn data_id(json: &str) -> Option<u64> {
    let data = &json[json.find("\"data\":")?..];
    number_fields(data, "id").into_iter().next()
}

/// Every numeric value of `"name":` in compact JSON.
fn number_fields(json: &str, name: &str) -> Vec<u64> {
    let key = format!("\"{name}\":");
    json.match_indices(&key)
        .filter_map(|(i, _)| {
            let digits: String = json[i + key.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .collect()
}

/// The last lines of Janus's log, for error messages.
fn log_tail(log: &Path) -> String {
    let text = fs::read(log)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(25)..].join("\n");
    format!("last lines of {}:\n{tail}", log.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_answers_give_their_numbers() {
        let created = r#"{"janus":"success","transaction":"x","data":{"id":8903458880248575}}"#;
        assert_eq!(data_id(created), Some(8903458880248575));
        let info = r#"{"media":[{"type":"audio","age_ms":0},{"type":"video","age_ms":40}]}"#;
        assert_eq!(number_fields(info, "age_ms"), vec![0, 40]);
        assert_eq!(dechunk("5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"), "helloabc");
    }

    #[test]
    fn disable_lists_keep_only_the_named_library() {
        let dir = std::env::temp_dir().join(format!("xtask-janus-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        for name in [
            "libjanus_http.so",
            "libjanus_pfunix.so",
            "libjanus_http.so.1",
        ] {
            fs::write(dir.join(name), "").unwrap();
        }
        assert_eq!(others(&dir, "libjanus_http.so"), "libjanus_pfunix.so");
        let _ = fs::remove_dir_all(&dir);
    }
}

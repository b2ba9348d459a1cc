//! Acknowledged writes survive SIGKILL: a child process (this test binary again, run with
//! [`CHILD_ENV`] set) opens incidents and applies commands to them on an SQLite file,
//! printing `ack <incident> <revision>` after each commit returned; the parent SIGKILLs
//! it in the middle of its run, reopens the file and finds every acknowledged write, at
//! that revision or later, with its timeline. A second child then carries on with the
//! same file (ids continue, nothing collides) and is killed the same way.
//!
//! SQLite only: it is the default and the store's durability there is ours (WAL,
//! `synchronous=FULL`, commit before acknowledging); PostgreSQL's is the server's.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use watchpost_command::Database;
use watchpost_command::domain::{Figures, IncidentCommand, IncidentId};
use watchpost_command::incidents::{IncidentStore, MAX_LIMIT};
use watchpost_config::SecretUrl;

use super::incidents::{NOW, new_incident};

/// Set (to the database file) in the child process.
const CHILD_ENV: &str = "WATCHPOST_DURABILITY_CHILD";
/// This test's name in the binary, for the child's command line.
const TEST: &str = "durability::acknowledged_writes_survive_sigkill";
/// How long the parent waits for the child's next line before giving up.
const LINE_TIMEOUT: Duration = Duration::from_secs(30);
/// Concurrent writers in the child.
const WRITERS: usize = 2;
/// Commands applied to each incident after opening it.
const COMMANDS_PER_INCIDENT: i64 = 4;

fn url(file: &Path) -> SecretUrl {
    SecretUrl::new(format!("sqlite://{}?mode=rwc", file.display()))
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if let Some(file) = std::env::var_os(CHILD_ENV) {
        runtime.block_on(child(PathBuf::from(file)));
        return;
    }
    let dir = std::env::temp_dir().join(format!("watchpost-durability-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("watchpost.db");

    let mut acknowledged: BTreeMap<String, i64> = BTreeMap::new();
    for kill_after in [150, 97] {
        let acks = run_and_kill(&file, kill_after);
        assert!(
            acks.len() >= kill_after,
            "the child acknowledged only {} writes",
            acks.len()
        );
        for (id, revision) in acks {
            let known = acknowledged.entry(id).or_insert(revision);
            *known = (*known).max(revision);
        }
        runtime.block_on(verify(&file, &acknowledged));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs a child on `file`, SIGKILLs it after `kill_after` acknowledgements and returns
/// every acknowledgement it printed (also those still in the pipe when it died).
fn run_and_kill(file: &Path, kill_after: usize) -> Vec<(String, i64)> {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([TEST, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut acks = Vec::new();
    let mut killed = false;
    loop {
        let line = match lines.recv_timeout(LINE_TIMEOUT) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("the child printed nothing for {LINE_TIMEOUT:?}");
            }
        };
        if let Some(ack) = line.strip_prefix("ack ") {
            let (id, revision) = ack.split_once(' ').expect("ack <id> <revision>");
            acks.push((id.to_owned(), revision.parse().expect("revision")));
        }
        if !killed && acks.len() >= kill_after {
            // Mid-run: the child is writing continuously.
            child.kill().expect("SIGKILL the child");
            killed = true;
        }
    }
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert!(killed, "the child ended before it was killed: {status}");
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status}");
    acks
}

/// Reopens `file` and checks every acknowledged write.
async fn verify(file: &Path, acknowledged: &BTreeMap<String, i64>) {
    let db = Database::connect(&url(file)).await.unwrap();
    let Database::Sqlite { pool, .. } = &db else {
        unreachable!()
    };
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let store = IncidentStore::open(db.clone()).await.unwrap();
    for (id, &revision) in acknowledged {
        let id = IncidentId::parse(id).unwrap();
        let stored = store
            .get(&id)
            .await
            .unwrap_or_else(|e| panic!("acknowledged incident {id} lost: {e}"));
        assert!(
            stored.revision >= revision,
            "incident {id}: revision {revision} was acknowledged, {} survived",
            stored.revision
        );
        // Every revision added at least one timeline entry, in the same commit.
        let entries = store.timeline(&id, None, MAX_LIMIT).await.unwrap();
        assert!(
            i64::try_from(entries.len()).unwrap() >= stored.revision,
            "incident {id} at revision {} has {} timeline entries",
            stored.revision,
            entries.len()
        );
    }
    db.close().await;
}

/// The child: `WRITERS` tasks open incidents and change them until killed, printing each
/// acknowledged write.
async fn child(file: PathBuf) {
    let db = Database::connect(&url(&file)).await.unwrap();
    let store = IncidentStore::open(db).await.unwrap();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            // Bounded, in case the parent dies: far more than the parent waits for.
            for n in 0..10_000i64 {
                let at = NOW + n;
                let (opened, _) = store
                    .open_incident(new_incident(&format!("w{w} #{n}"), "Pudong"), "child", at)
                    .await
                    .unwrap();
                let id = opened.value.id().clone();
                println!("ack {id} {}", opened.revision);
                for k in 0..COMMANDS_PER_INCIDENT {
                    let command = if k % 2 == 0 {
                        IncidentCommand::AddNote {
                            text: format!("note {k}"),
                        }
                    } else {
                        IncidentCommand::UpdateFigures {
                            figures: Figures {
                                serious_injuries: Some(k),
                                ..Figures::default()
                            },
                        }
                    };
                    let (changed, _) = store.apply(&id, command, "child", at, None).await.unwrap();
                    println!("ack {id} {}", changed.revision);
                }
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
}

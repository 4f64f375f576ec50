//! A throwaway PostgreSQL server for the test suite: `initdb` into a temporary directory,
//! `pg_ctl start` on a free loopback port (as the `postgres` user when running as root, since
//! PostgreSQL refuses to run as root), and `pg_ctl stop` plus removal when dropped. The server
//! tests read its URL from `ROOST_TEST_PG_URL` and create one database per test.

use anyhow::{Context, Result};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

use crate::run_checked;

/// The variable the PostgreSQL test variants read (see `roost_server::testing`).
pub const TEST_PG_URL_VAR: &str = "ROOST_TEST_PG_URL";

/// A running throwaway server; stopped and deleted on drop.
#[derive(Debug)]
pub struct TestPostgres {
    bin_dir: PathBuf,
    dir: PathBuf,
    url: String,
    as_postgres_user: bool,
}

impl TestPostgres {
    pub fn start() -> Result<TestPostgres> {
        let bin_dir = find_bin_dir()?;
        let as_postgres_user = is_root();
        let dir = std::env::temp_dir().join(format!("roost-test-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        if as_postgres_user {
            run_checked(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&dir),
            )?;
        }
        let data = dir.join("data");
        let mut server = TestPostgres {
            bin_dir,
            dir,
            url: String::new(),
            as_postgres_user,
        };
        run_checked(
            server
                .pg_command("initdb")
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ])
                .stdout(std::process::Stdio::null()),
        )?;
        let port = free_loopback_port()?;
        // Durability off: the cluster lives for one test run. max_connections covers the
        // parallel tests, each with a few instances of two pools and a listener.
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400 \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            server.dir.display()
        );
        run_checked(
            server
                .pg_command("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(server.dir.join("server.log"))
                .args(["-o", &options, "-w", "start"])
                .stdout(std::process::Stdio::null()),
        )?;
        server.url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        Ok(server)
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres` (trust authentication, loopback only).
    pub fn url(&self) -> &str {
        &self.url
    }

    fn pg_command(&self, program: &str) -> Command {
        let program = self.bin_dir.join(program);
        let mut command = if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        // A directory the postgres user may enter (the repository may not be readable to it).
        command.current_dir(&self.dir);
        command
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let _ = self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Debian's `/usr/lib/postgresql/<version>/bin` (newest first), else `initdb` on PATH.
fn find_bin_dir() -> Result<PathBuf> {
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    candidates.sort();
    if let Some((_, bin)) = candidates.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).find(|dir| dir.join("initdb").exists()))
        .context("PostgreSQL's initdb not found: install the `postgresql` package (./dev does)")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn free_loopback_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;

    #[test]
    fn a_throwaway_server_starts_on_loopback_and_is_gone_after_drop() {
        if find_bin_dir().is_err() {
            eprintln!("skipped: PostgreSQL is not installed (./dev installs it)");
            return;
        }
        let server = TestPostgres::start().unwrap();
        let address = server
            .url()
            .trim_start_matches("postgres://postgres@")
            .trim_end_matches("/postgres")
            .to_owned();
        assert!(address.starts_with("127.0.0.1:"), "{}", server.url());
        TcpStream::connect(&address).expect("the server accepts connections");
        let dir = server.dir.clone();
        drop(server);
        assert!(!dir.exists(), "its directory is removed");
        assert!(TcpStream::connect(&address).is_err(), "it is stopped");
    }
}

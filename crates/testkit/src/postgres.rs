//! A real Postgres cluster on a free loopback port, made by the test (`initdb` into a temporary
//! directory) and stopped when dropped, a panic included (`.ci/run` installs Postgres).
//!
//! The server binaries are found on `PATH` first, then in Debian's
//! `/usr/lib/postgresql/<version>/bin` (newest first), which is not on `PATH`. Postgres refuses
//! to run as root, as tests and CI do here: then the cluster is made and run as the `postgres`
//! user the package creates (`runuser -u postgres`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::redis::free_port;

/// A Postgres cluster of its own, with trust authentication for the superuser `postgres`.
pub struct PostgresServer {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// Whether commits are flushed to disk (`fsync`, `full_page_writes`).
    flushed: bool,
}

impl PostgresServer {
    /// Makes a cluster in an empty temporary directory and starts it on a free loopback port.
    /// Flushing is off (`fsync = off`): these tests are about concurrency and crashes of the
    /// server process, not power loss. Commits still reach the WAL before they are answered
    /// (`synchronous_commit` stays on), so an immediate [`stop`](Self::stop) loses nothing
    /// acknowledged.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Like [`start`](Self::start), but flushing as a production server does (`fsync = on`,
    /// `full_page_writes = on`): for benchmarks of durability. Set on the command line, which
    /// outranks `ALTER SYSTEM` — so neither can be changed afterwards by mistake.
    pub fn start_flushed() -> Self {
        Self::start_with(true)
    }

    fn start_with(flushed: bool) -> Self {
        let bin = bin_dir();
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("testkit-postgres-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut server = Self {
            bin,
            dir,
            port,
            flushed,
        };
        let made = server.as_server_user(
            "initdb",
            &[
                "-D".as_ref(),
                server.dir.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--auth=trust".as_ref(),
                "--no-sync".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
            ],
        );
        assert!(
            made.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        // A free port can be taken by a parallel test before the server binds it: another.
        for _ in 0..4 {
            if server.try_resume().is_ok() {
                return server;
            }
            server.port = free_port();
        }
        server.resume();
        server
    }

    /// Starts the cluster again after [`stop`](Self::stop), on the same port, with its data.
    pub fn resume(&self) {
        if let Err(reason) = self.try_resume() {
            panic!("{reason}");
        }
    }

    fn try_resume(&self) -> Result<(), String> {
        let flush = if self.flushed { "on" } else { "off" };
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync={flush} \
             -c full_page_writes={flush} -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log");
        let started = self.as_server_user(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.dir.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "30".as_ref(),
                "start".as_ref(),
            ],
        );
        if !started.status.success() {
            return Err(format!(
                "postgres did not start on port {}: {}{}",
                self.port,
                String::from_utf8_lossy(&started.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.psql("postgres", "SELECT 1").status.success() {
            if Instant::now() > deadline {
                return Err("postgres does not answer".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Stops it at once (`pg_ctl stop -m immediate`: like a crash, no checkpoint), keeping its
    /// data for [`resume`](Self::resume).
    pub fn stop(&self) {
        let _ = self.as_server_user(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.dir.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        );
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `database` on it.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates an empty database `name` (dropping one of that name first) and returns its URL.
    pub fn database(&self, name: &str) -> String {
        for sql in [
            format!("DROP DATABASE IF EXISTS \"{name}\""),
            format!("CREATE DATABASE \"{name}\""),
        ] {
            let output = self.psql("postgres", &sql);
            assert!(
                output.status.success(),
                "{sql}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        self.url(name)
    }

    /// Runs `sql` with `psql` in `database` and returns its output (unaligned, tuples only).
    pub fn psql(&self, database: &str, sql: &str) -> Output {
        Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                database,
            ])
            .args(["-c", sql])
            .stdin(Stdio::null())
            .output()
            .expect("psql comes with postgres")
    }

    /// Runs the SQL file `path` with `psql --single-transaction` in `database`, as an operator
    /// would run a migration by hand.
    pub fn psql_file(&self, database: &str, path: &Path) -> Output {
        Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "--single-transaction", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", database, "-f"])
            .arg(path)
            .stdin(Stdio::null())
            .output()
            .expect("psql comes with postgres")
    }

    /// Runs a server binary (`initdb`, `pg_ctl`), as the `postgres` user when we are root.
    fn as_server_user(&self, program: &str, args: &[&std::ffi::OsStr]) -> Output {
        let program = self.bin.join(program);
        let mut command = if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        command
            .args(args)
            // The server's user must be able to enter it.
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
    }
}

impl Drop for PostgresServer {
    /// Stops it and deletes its directory.
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

/// Where `initdb`, `pg_ctl` and `psql` are: the real directory of `initdb` on `PATH`, else the
/// newest `/usr/lib/postgresql/<version>/bin` that has one.
pub fn bin_dir() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    // Through symlinks (`/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb`): the
    // real directory has `pg_ctl` and `psql` beside it.
    if let Some(dir) = on_path
        .into_iter()
        .filter_map(|dir| std::fs::canonicalize(dir.join("initdb")).ok())
        .find_map(|initdb| Some(initdb.parent()?.to_owned()))
        .filter(|dir| dir.join("pg_ctl").is_file() && dir.join("psql").is_file())
    {
        return dir;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).expect(
        "Postgres must be installed for these tests (`apt-get install -y postgresql`; .ci/run does it)",
    )
}

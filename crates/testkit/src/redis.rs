//! A real `redis-server` on a free loopback port, started by the test (`.ci/run` installs it).

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` child process, killed on drop.
pub struct RedisServer {
    port: u16,
    child: Child,
    appendonly: bool,
}

impl RedisServer {
    /// Starts one on a free port, configured as the stores require of a production server
    /// (`appendonly yes`, `maxmemory-policy noeviction`), with an empty data directory. Its
    /// append-only file is written every second (`appendfsync everysec`), which the stores
    /// accept and which keeps tests fast.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// [`start`](Self::start) with more `redis-server` arguments, which override the defaults:
    /// `["--maxmemory-policy", "allkeys-lru"]`, `["--appendonly", "no"]`,
    /// `["--rename-command", "CONFIG", ""]`.
    pub fn start_with(extra: &[&str]) -> Self {
        let mut args = vec!["--appendonly", "yes", "--appendfsync", "everysec"];
        args.extend(extra);
        // A port found free may be bound by a parallel test before this server binds it; the
        // server then exits, and another port is tried.
        for _ in 0..5 {
            let port = free_port();
            let _ = std::fs::remove_dir_all(data_dir(port));
            if let Some(server) = Self::spawn(port, &args) {
                return server;
            }
        }
        panic!("redis-server could not bind any of 5 free ports");
    }

    /// Starts one on `port`, keeping the data a server on that port left in its temporary
    /// directory (to restart one). With `appendonly`, every write is logged to a file there
    /// before Redis answers (`appendfsync always`); without, nothing is kept.
    pub fn start_on(port: u16, appendonly: bool) -> Self {
        let args: &[&str] = if appendonly {
            &["--appendonly", "yes", "--appendfsync", "always"]
        } else {
            &["--appendonly", "no"]
        };
        Self::spawn(port, args)
            .unwrap_or_else(|| panic!("redis-server could not bind port {port}: it is taken"))
    }

    /// Starts one on `port`; `None` if it could not bind it (another process has it).
    fn spawn(port: u16, extra: &[&str]) -> Option<Self> {
        let dir = data_dir(port);
        std::fs::create_dir_all(&dir).expect("a directory for redis-server");
        let port_text = port.to_string();
        let mut args = vec!["--port", &port_text, "--bind", "127.0.0.1", "--save", ""];
        args.extend(extra);
        let appendonly = args
            .windows(2)
            .rev()
            .find(|pair| pair[0] == "--appendonly")
            .is_some_and(|pair| pair[1] == "yes");
        let mut child = Command::new("redis-server")
            .args(&args)
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for these tests (`apt-get install -y redis-server`; .ci/run does it)");
        // Ready once it answers PING: a server that restarts on an append-only file accepts
        // connections while it loads, and answers `-LOADING` until it has. The server that
        // answers must be this child (its `process_id`): another test's may hold the port.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if child.try_wait().ok().flatten().is_some() {
                return None;
            }
            if answers_ping(port) && process_id(port) == Some(child.id()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Self {
            port,
            child,
            appendonly,
        })
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its URL, `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Whether it logs writes (see [`start_on`](Self::start_on)).
    pub fn appendonly(&self) -> bool {
        self.appendonly
    }

    /// Runs `redis-cli` against it with `args`, e.g. `["CLIENT", "PAUSE", "800", "ALL"]`.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli comes with redis-server");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Kills it (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    /// Kills it and deletes its data directory, so a later server on the same port (ports are
    /// reused) does not load what this one wrote.
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(data_dir(self.port));
    }
}

fn answers_ping(port: u16) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0; 5];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG"
}

/// The `process_id` of the server answering on `port` (`INFO server`).
fn process_id(port: u16) -> Option<u32> {
    use std::io::{BufRead as _, Read as _, Write as _};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    stream.write_all(b"INFO server\r\n").ok()?;
    let mut reader = std::io::BufReader::new(stream);
    let mut length = String::new();
    reader.read_line(&mut length).ok()?;
    let length: usize = length.trim().strip_prefix('$')?.parse().ok()?;
    let mut info = vec![0; length];
    reader.read_exact(&mut info).ok()?;
    String::from_utf8_lossy(&info)
        .lines()
        .find_map(|line| line.strip_prefix("process_id:")?.trim().parse().ok())
}

fn data_dir(port: u16) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("testkit-redis-{port}"))
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

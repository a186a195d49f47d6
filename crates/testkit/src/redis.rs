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
    /// Starts one on a free port, without persistence.
    pub fn start() -> Self {
        Self::start_on(free_port(), false)
    }

    /// Starts one on `port`; with `appendonly`, every write is logged to a file in a fresh
    /// temporary directory (`appendfsync always`).
    pub fn start_on(port: u16, appendonly: bool) -> Self {
        let dir = std::env::temp_dir().join(format!("testkit-redis-{port}"));
        std::fs::create_dir_all(&dir).expect("a directory for redis-server");
        let port_text = port.to_string();
        let mut args = vec!["--port", &port_text, "--bind", "127.0.0.1", "--save", ""];
        if appendonly {
            args.extend(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            args.extend(["--appendonly", "no"]);
        }
        let child = Command::new("redis-server")
            .args(&args)
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for these tests (`apt-get install -y redis-server`; .ci/run does it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            port,
            child,
            appendonly,
        }
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
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

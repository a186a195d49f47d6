//! A minimal WebDriver client — the dozen endpoints the browser test uses, JSON over HTTP/1
//! with the hyper client the workspace already has — and chromedriver with headless Chromium,
//! started on a free loopback port and killed (with the browser) on drop.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http::{Method, Request};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// The key WebDriver names an element reference with.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long one WebDriver command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Where Debian puts them (`apt-get install chromium chromium-driver`).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// A running chromedriver, in a process group of its own so that dropping it ends the
/// browsers it started as well.
pub struct Driver {
    child: Child,
    port: u16,
    profile: PathBuf,
}

impl Driver {
    /// Starts chromedriver on a free loopback port and waits (at most 20 s) until it is ready.
    pub async fn start() -> Driver {
        use std::os::unix::process::CommandExt as _;
        let port = {
            let probe = TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {CHROMEDRIVER}: {e} (apt-get install chromium chromium-driver)"
                )
            });
        let profile = testkit::scratch::dir(&format!("chromium-{port}"));
        let driver = Driver {
            child,
            port,
            profile,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(status) = driver.call(Method::GET, "/status", None).await
                && status["value"]["ready"] == json!(true)
            {
                return driver;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver was not ready within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens headless Chromium with a fresh profile.
    pub async fn session(&self) -> Session<'_> {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ]
        .map(String::from)
        .into_iter()
        .chain([format!("--user-data-dir={}", self.profile.display())])
        .collect::<Vec<_>>();
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                // Alerts stay open for the test to look for, rather than being dismissed.
                "unhandledPromptBehavior": "ignore",
                "goog:chromeOptions": { "binary": CHROMIUM, "args": args }
            }}
        });
        let answer = self
            .call(Method::POST, "/session", Some(capabilities))
            .await
            .unwrap_or_else(|e| panic!("cannot open Chromium: {e}"));
        let id = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_owned();
        Session { driver: self, id }
    }

    /// One WebDriver command: the answer's JSON, or its error as text.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let client: Client<HttpConnector, Full<bytes::Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let request = Request::builder()
            .method(method)
            .uri(format!("http://127.0.0.1:{}{path}", self.port))
            .header("content-type", "application/json")
            .body(Full::new(
                body.map(|b| b.to_string()).unwrap_or_default().into(),
            ))
            .map_err(|e| e.to_string())?;
        let response = tokio::time::timeout(COMMAND_TIMEOUT, client.request(request))
            .await
            .map_err(|_| format!("{path}: no answer within {COMMAND_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(value)
        } else {
            Err(value["value"]["error"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| value.to_string()))
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every Chromium process it started. The `--` is
        // load-bearing: procps-ng 4.0's kill reads `kill -KILL -1234` as `kill(-1, SIGKILL)`
        // (every process the caller may signal — the whole machine, as root); with `--` the
        // negative number is the process group, as intended.
        let group = self.child.id();
        assert!(group > 1, "chromedriver's process group is {group}");
        let _ = Command::new("kill")
            .args(["-9", "--", &format!("-{group}")])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// One browser.
pub struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

/// An element of the current page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Session<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        self.driver
            .call(method, &format!("/session/{}{path}", self.id), body)
            .await
    }

    pub async fn goto(&self, url: &str) {
        self.call(Method::POST, "/url", Some(json!({ "url": url })))
            .await
            .unwrap();
    }

    pub async fn current_url(&self) -> String {
        self.call(Method::GET, "/url", None).await.unwrap()["value"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The element `css` selects, waiting (at most 10 s) for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self
                .call(
                    Method::POST,
                    "/element",
                    Some(json!({ "using": "css selector", "value": css })),
                )
                .await;
            match found {
                Ok(answer) => {
                    return Element(answer["value"][ELEMENT].as_str().unwrap().to_owned());
                }
                Err(e) if e == "no such element" && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("{css}: {e}"),
            }
        }
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let answer = self
            .call(
                Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await
            .unwrap();
        answer["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| Element(e[ELEMENT].as_str().unwrap().to_owned()))
            .collect()
    }

    pub async fn click(&self, element: &Element) {
        self.call(
            Method::POST,
            &format!("/element/{}/click", element.0),
            Some(json!({})),
        )
        .await
        .unwrap();
    }

    /// Clicks an element that leads to another page (a link, a form's submit button) and
    /// waits (at most 10 s) until that page has loaded. The click command may return before
    /// the navigation starts, so the old document is marked first and the wait is for a
    /// document without the mark whose loading is complete — this holds even when the new page
    /// has the old one's address.
    pub async fn click_and_load(&self, element: &Element) {
        self.script("window.__awOld = true; return null;")
            .await
            .unwrap();
        self.click(element).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // A script may fail while the document is being replaced; that is "not yet".
            let loaded = self
                .script(
                    "return window.__awOld === undefined && document.readyState === 'complete';",
                )
                .await;
            if loaded == Ok(json!(true)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no new page loaded within 10 s of the click"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `script` in the page: its value, or the WebDriver error.
    async fn script(&self, script: &str) -> Result<Value, String> {
        let answer = self
            .call(
                Method::POST,
                "/execute/sync",
                Some(json!({ "script": script, "args": [] })),
            )
            .await?;
        Ok(answer["value"].clone())
    }

    pub async fn type_into(&self, element: &Element, text: &str) {
        self.call(
            Method::POST,
            &format!("/element/{}/value", element.0),
            Some(json!({ "text": text })),
        )
        .await
        .unwrap();
    }

    pub async fn text(&self, element: &Element) -> String {
        self.call(Method::GET, &format!("/element/{}/text", element.0), None)
            .await
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The open alert's text, or the WebDriver error (`no such alert` when there is none).
    pub async fn alert_text(&self) -> Result<String, String> {
        self.call(Method::GET, "/alert/text", None)
            .await
            .map(|v| v["value"].as_str().unwrap_or("").to_owned())
    }

    pub async fn source(&self) -> String {
        self.call(Method::GET, "/source", None).await.unwrap()["value"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Closes the browser.
    pub async fn quit(self) {
        let _ = self.call(Method::DELETE, "", None).await;
    }
}

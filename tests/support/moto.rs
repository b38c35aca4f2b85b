//! moto's server mode (`moto[server]` from PyPI) as AWS Secrets Manager on loopback, and a proxy
//! in front of it that answers the first requests with a service error, as a throttled or
//! permission-less account would, before letting requests through.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const REGION: &str = "eu-west-1";

pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    /// Starts `moto_server` on a free loopback port and waits until it answers.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// With extra environment for moto, e.g. `INITIAL_NO_AUTH_ACTION_COUNT` to enforce IAM.
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        let port = free_port();
        // `python3 -m` rather than the `moto_server` script: pyenv's shims only see a script
        // after a rehash, the module is there as soon as pip has installed it.
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs moto.server: `python3 -m pip install 'moto[server]'` (scripts/setup-debian.sh does)");
        let moto = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not listen on {port} within 60s");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment the SDK (in pgdeck or in a child process) needs to use this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        aws_env(&self.url())
    }
}

/// Static test credentials, the region, and the endpoint override the SDK honours; profiles are
/// pointed away so the tests never read the machine's own AWS configuration.
pub fn aws_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", REGION.into()),
        ("AWS_ENDPOINT_URL", endpoint.into()),
        ("AWS_CONFIG_FILE", "/dev/null".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port()
}

/// Answers the first `failures` requests with `error` (an awsJson1.1 error type such as
/// `ThrottlingException`) and forwards the rest to `upstream`.
pub struct FaultProxy {
    pub port: u16,
    pub seen: Arc<AtomicUsize>,
}

impl FaultProxy {
    pub fn start(upstream: u16, error: &'static str, status: u16, failures: usize) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let _ = if n < failures { answer_error(stream, error, status) } else { forward(stream, upstream) };
            }
        });
        Self { port, seen }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Reads one request (head and Content-Length body).
fn read_request(stream: &TcpStream) -> std::io::Result<Vec<u8>> {
    let mut reader = BufReader::new(stream);
    let mut head = Vec::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        head.extend_from_slice(line.as_bytes());
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    head.extend(body);
    Ok(head)
}

fn answer_error(mut stream: TcpStream, error: &str, status: u16) -> std::io::Result<()> {
    read_request(&stream)?;
    let body = format!("{{\"__type\":\"{error}\",\"message\":\"injected by the test proxy\"}}");
    write!(
        stream,
        "HTTP/1.1 {status} Error\r\ncontent-type: application/x-amz-json-1.1\r\nx-amzn-errortype: {error}\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// One request per connection (`connection: close` both ways), relayed as bytes.
fn forward(stream: TcpStream, upstream: u16) -> std::io::Result<()> {
    let request = read_request(&stream)?;
    let text = String::from_utf8_lossy(&request);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let head: Vec<&str> = head.lines().filter(|l| !l.to_ascii_lowercase().starts_with("connection:")).collect();
    let rewritten = format!("{}\r\nconnection: close\r\n\r\n{body}", head.join("\r\n"));
    let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
    server.write_all(rewritten.as_bytes())?;
    let mut response = Vec::new();
    server.read_to_end(&mut response)?;
    let mut client = stream;
    client.write_all(&response)
}

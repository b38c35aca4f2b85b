//! `GET /api/v1/namespaces/{ns}/pods/{name}/portforward?ports=…` as the API server and kubelet
//! serve it to WebSocket clients (kube-rs, client-go's WebSocket dialer), piping each port to the
//! pod's IP, where the fake's real PostgreSQL listens.
//!
//! The protocol (kubelet `pkg/kubelet/cri/streaming/portforward/websocket.go`, and what
//! `kube-client/src/api/portforward.rs` expects): the subprotocol `v4.channel.k8s.io` (or none);
//! binary frames whose first byte is the channel, `2*i` the data and `2*i+1` the error channel of
//! the i-th port; the server's first frame on each channel is that port, 2 bytes little-endian;
//! an error is one text message on the error channel, after which the connection closes.
//! kubectl 1.30+ asks for `SPDY/3.1+portforward.k8s.io` instead (SPDY framed inside WebSocket),
//! then falls back to a SPDY upgrade; the fake speaks neither and refuses both with 400.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::http::{decode, error, forbidden, parse_target};
use super::status;
use super::{lock, resources, Inner, RecordedRequest};

/// The only subprotocol the kubelet's port-forward offers in binary framing.
const V4: &str = "v4.channel.k8s.io";

pub async fn serve(
    State(inner): State<Arc<Inner>>,
    Path((namespace, pod)): Path<(String, String)>,
    mut request: Request,
) -> Response {
    let (method, uri) = (request.method().clone(), request.uri().clone());
    lock(&inner.requests).push(RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        content_type: None,
        body: Vec::new(),
    });
    let segments = ["api", "v1", "namespaces", namespace.as_str(), "pods", pod.as_str(), "portforward"];
    let query = super::http::parse_query(&uri);
    if let Some(denied) = parse_target(&segments).and_then(|t| forbidden(&inner, &method, &t, &query)) {
        return error(&denied);
    }
    let Some(pods) = resources::find("", "v1", "pods") else { return error(&status::not_found_path()) };
    let Some(pod_obj) = lock(&inner.store).get(pods, &namespace, &pod).cloned() else {
        return error(&status::not_found(pods, &pod));
    };
    let Some(ip) = pod_obj.pointer("/status/podIP").and_then(Value::as_str).map(str::to_owned) else {
        return error(&status::bad_request(&format!("pod {pod} does not have a host assigned")));
    };
    let protocol = match websocket_protocol(&method, request.headers()) {
        Ok(protocol) => protocol,
        Err(message) => return error(&status::bad_request(&message)),
    };
    let ports = match ports(uri.query().unwrap_or("")) {
        Ok(ports) => ports,
        Err(message) => return error(&status::bad_request(&message)),
    };
    let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY).map(|k| derive_accept_key(k.as_bytes())) else {
        return error(&status::bad_request("missing Sec-WebSocket-Key"));
    };
    let Some(on_upgrade) = request.extensions_mut().remove::<hyper::upgrade::OnUpgrade>() else {
        return error(&status::bad_request("the connection cannot be upgraded"));
    };
    let uid = pod_obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("").to_owned();
    let restarts = inner.restarts.subscribe();
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
            forward(ws, &Pod { name: pod, uid, ip }, &ports, restarts).await;
        }
    });
    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, key);
    if let Some(protocol) = protocol {
        response = response.header(header::SEC_WEBSOCKET_PROTOCOL, protocol);
    }
    response.body(Body::empty()).unwrap_or_else(|_| Response::new(Body::empty()))
}

/// `ports=5432,8000` or `ports=5432&ports=8000`, as the API server accepts them.
fn ports(query: &str) -> Result<Vec<u16>, String> {
    let mut out = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(k) != "ports" {
            continue;
        }
        for port in decode(v).split(',') {
            let port: u16 = port
                .trim()
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("invalid port value \"{port}\": must be between 1 and 65535"))?;
            out.push(port);
        }
    }
    if out.is_empty() {
        return Err("at least one port must be specified".into());
    }
    Ok(out)
}

/// The subprotocol to answer with: `v4.channel.k8s.io` when offered, none when none is asked for.
fn websocket_protocol(method: &Method, headers: &HeaderMap) -> Result<Option<&'static str>, String> {
    let upgrade = headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if *method != Method::GET || !upgrade.eq_ignore_ascii_case("websocket") {
        return Err(format!(
            "Upgrade request required: the fake serves port-forward over WebSocket ({V4}) only, not `{upgrade}`"
        ));
    }
    let offered: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if offered.is_empty() {
        return Ok(None);
    }
    if offered.contains(&V4) {
        return Ok(Some(V4));
    }
    Err(format!("requested protocol(s) are not supported: {offered:?}; the fake supports {V4}"))
}

struct Pod {
    name: String,
    uid: String,
    ip: String,
}

/// What the kubelet would say when nothing listens on the port in the pod. It dials localhost in
/// the pod's network namespace; the fake's pods share loopback, so it dials the pod IP, and says so.
fn dial_error(pod: &Pod, port: u16, e: &std::io::Error) -> String {
    let cause = if e.kind() == std::io::ErrorKind::ConnectionRefused {
        "connect: connection refused".to_owned()
    } else {
        e.to_string()
    };
    format!(
        "error forwarding port {port} to pod {}, uid {}: failed to connect to localhost:{port} inside the pod's \
         network namespace, IPv4: dial tcp4 {}:{port}: {cause}",
        pod.name, pod.uid, pod.ip
    )
}

fn frame(channel: usize, data: &[u8]) -> Message {
    let mut bytes = Vec::with_capacity(data.len() + 1);
    bytes.push(u8::try_from(channel).unwrap_or(u8::MAX));
    bytes.extend_from_slice(data);
    Message::binary(bytes)
}

/// Pipes each port to the pod until the client closes, a pod side ends, or the fake restarts.
async fn forward<S>(ws: WebSocketStream<S>, pod: &Pod, ports: &[u16], mut restarts: tokio::sync::watch::Receiver<u64>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sink, mut incoming) = ws.split();
    for (i, port) in ports.iter().enumerate() {
        for channel in [2 * i, 2 * i + 1] {
            if sink.send(frame(channel, &port.to_le_bytes())).await.is_err() {
                return;
            }
        }
    }
    // Each port's bytes from the pod, as data-channel frames, through one writer.
    let (to_client, mut outgoing) = mpsc::channel::<Message>(16);
    let mut writers = Vec::new();
    let mut failed = false;
    for (i, port) in ports.iter().enumerate() {
        match TcpStream::connect((pod.ip.as_str(), *port)).await {
            Ok(stream) => {
                let (mut read, write) = stream.into_split();
                writers.push(Some(write));
                let to_client = to_client.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0_u8; 32 * 1024];
                    while let Ok(n) = read.read(&mut buf).await {
                        if n == 0 || to_client.send(frame(2 * i, &buf[..n])).await.is_err() {
                            break;
                        }
                    }
                });
            }
            Err(e) => {
                failed = true;
                writers.push(None);
                let _ = sink.send(frame(2 * i + 1, dial_error(pod, *port, &e).as_bytes())).await;
            }
        }
    }
    drop(to_client);
    if failed {
        // The kubelet closes the connection once a port's forward has failed.
        close(sink, incoming).await;
        return;
    }
    loop {
        tokio::select! {
            out = outgoing.recv() => match out {
                Some(message) => if sink.send(message).await.is_err() { break },
                // Every pod side ended: so does the forward.
                None => break,
            },
            msg = incoming.next() => match msg {
                Some(Ok(Message::Binary(bytes))) if bytes.len() > 1 => {
                    let writer = writers.get_mut(usize::from(bytes[0]) / 2).and_then(Option::as_mut);
                    let to_pod = usize::from(bytes[0]) % 2 == 0;
                    if let (Some(writer), true) = (writer, to_pod) {
                        if writer.write_all(&bytes[1..]).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            _ = restarts.changed() => break,
        }
    }
    close(sink, incoming).await;
}

/// The closing handshake, whichever side began it: a TCP reset instead is an error to clients.
async fn close<S>(
    mut sink: futures::stream::SplitSink<WebSocketStream<S>, Message>,
    mut incoming: futures::stream::SplitStream<WebSocketStream<S>>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let _ = sink.close().await;
    let drained = async { while let Some(Ok(_)) = incoming.next().await {} };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drained).await;
}

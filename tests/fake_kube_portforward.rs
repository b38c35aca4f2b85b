//! The fake API server's pod port-forward speaks the WebSocket protocol of the kubelet's
//! `portforward/websocket.go`: checked frame by frame with a plain WebSocket client, then with
//! kube-rs's own `Portforwarder`. (kubectl 1.30+ speaks SPDY inside WebSocket, or SPDY; the fake
//! refuses both, see `support/fake_kube/portforward.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use futures::{SinkExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use support::fake_kube::{cnpg, FakeKube, Kubeconfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The seeded cluster, with an echo server where the first pod's PostgreSQL would be and
/// nothing at the second's.
async fn seeded_with_echo(ips: [&str; 3]) -> FakeKube {
    let fake = FakeKube::start();
    cnpg::Seed { pod_ips: ips.map(str::to_owned), primary: 0 }.apply(&fake);
    let listener = tokio::net::TcpListener::bind((ips[0], 5432)).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0_u8; 1024];
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    fake
}

async fn open(
    fake: &FakeKube,
    pod: &str,
    protocols: &str,
) -> (tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, Option<String>) {
    let url = format!("ws://127.0.0.1:{}/api/v1/namespaces/postgres/pods/{pod}/portforward?ports=5432", fake.port());
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("Sec-WebSocket-Protocol", protocols.parse().unwrap());
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", fake.port())).await.unwrap();
    let (ws, response) = tokio_tungstenite::client_async(request, tcp).await.unwrap();
    let chosen = response.headers().get("sec-websocket-protocol").map(|v| v.to_str().unwrap().to_owned());
    (ws, chosen)
}

async fn next_binary(ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) -> Vec<u8> {
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Binary(bytes) => return bytes.to_vec(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_carry_the_channel_first_and_each_channel_opens_with_its_port() {
    let fake = seeded_with_echo(["127.0.0.151", "127.0.0.152", "127.0.0.153"]).await;

    // kube-rs offers v5 first; port-forward has only v4, which the server picks.
    let (mut ws, chosen) = open(&fake, "postgres-cluster-1", "v5.channel.k8s.io, v4.channel.k8s.io").await;
    assert_eq!(chosen.as_deref(), Some("v4.channel.k8s.io"));
    // 5432 = 0x1538, little-endian, on the data channel (0) and then the error channel (1).
    assert_eq!(next_binary(&mut ws).await, [0, 0x38, 0x15]);
    assert_eq!(next_binary(&mut ws).await, [1, 0x38, 0x15]);
    ws.send(Message::binary(b"\x00ping".to_vec())).await.unwrap();
    assert_eq!(next_binary(&mut ws).await, b"\x00ping");

    // Nothing listens in the pod: one message on the error channel, then the server closes.
    let (mut ws, _) = open(&fake, "postgres-cluster-2", "v4.channel.k8s.io").await;
    assert_eq!(next_binary(&mut ws).await, [0, 0x38, 0x15]);
    assert_eq!(next_binary(&mut ws).await, [1, 0x38, 0x15]);
    let error = next_binary(&mut ws).await;
    assert_eq!(error[0], 1);
    let text = String::from_utf8(error[1..].to_vec()).unwrap();
    assert!(text.starts_with("error forwarding port 5432 to pod postgres-cluster-2"), "{text}");
    assert!(text.contains("127.0.0.152:5432: connect: connection refused"), "{text}");
    assert!(matches!(ws.next().await, Some(Ok(Message::Close(_))) | None));

    let sent: Vec<_> = fake.requests().into_iter().filter(|r| r.path.ends_with("/portforward")).collect();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|r| r.method == "GET" && r.query == "ports=5432"), "{sent:#?}");
}

async fn client(kc: &Kubeconfig) -> kube::Client {
    let file = kube::config::Kubeconfig::read_from(&kc.path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_forwards_through_it_and_gets_rbacs_403_as_an_api_error() {
    let fake = seeded_with_echo(["127.0.0.154", "127.0.0.155", "127.0.0.156"]).await;
    let kc = fake.kubeconfig("postgres");
    let pods: Api<Pod> = Api::namespaced(client(&kc).await, "postgres");

    let mut forwarder = pods.portforward("postgres-cluster-1", &[5432]).await.unwrap();
    let mut stream = forwarder.take_stream(5432).unwrap();
    stream.write_all(b"hello").await.unwrap();
    let mut got = [0_u8; 5];
    stream.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"hello");
    drop(stream);
    forwarder.join().await.unwrap();

    let mut forwarder = pods.portforward("postgres-cluster-2", &[5432]).await.unwrap();
    let error = forwarder.take_error(5432).unwrap().await.unwrap();
    assert!(error.contains("connection refused"), "{error}");

    fake.forbid("pods/portforward");
    let Err(kube::Error::Api(status)) = pods.portforward("postgres-cluster-1", &[5432]).await else {
        panic!("a 403 is an API error")
    };
    assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
    assert!(status.message.contains("cannot get resource \"pods/portforward\""), "{}", status.message);
}

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::time::timeout;

use super::*;

const SHORT: Duration = Duration::from_millis(300);

async fn echo_udp() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = s.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            let _ = s.send_to(&buf[..n], from).await;
        }
    });
    addr
}

async fn echo_tcp() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1500];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

async fn udp_round_trip(sock: &UdpSocket, to: SocketAddr) -> bool {
    sock.send_to(b"ping", to).await.unwrap();
    let mut buf = [0u8; 16];
    matches!(
        timeout(SHORT, sock.recv_from(&mut buf)).await,
        Ok(Ok((4, _)))
    )
}

#[tokio::test]
async fn udp_links_cut_one_way_or_both_and_heal() {
    let b = Addrs {
        client: echo_tcp().await,
        peer: echo_udp().await,
    };
    let a = Addrs {
        client: "127.0.0.1:1".parse().unwrap(),
        peer: "127.0.0.1:1".parse().unwrap(),
    };
    let mesh = Mesh::start(&BTreeMap::from([(1, a), (2, b)]))
        .await
        .unwrap();
    let relay = mesh.route(1, 2, b).peer;
    assert_ne!(relay, b.peer);
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    assert!(udp_round_trip(&sock, relay).await);
    // Replies cut (2 -> 1): the request gets through but no answer comes back.
    mesh.links.cut(2, 1);
    assert!(!udp_round_trip(&sock, relay).await);
    mesh.links.heal_all();
    assert!(udp_round_trip(&sock, relay).await);
    mesh.links.split(&[1], &[2]);
    assert!(!udp_round_trip(&sock, relay).await);
    assert!(mesh.links.dropped.load(Ordering::Relaxed) >= 2);
    mesh.links.heal_all();
    assert!(udp_round_trip(&sock, relay).await);
}

#[tokio::test]
async fn tcp_streams_stall_while_cut_and_resume_on_heal() {
    let b = Addrs {
        client: echo_tcp().await,
        peer: echo_udp().await,
    };
    let a = b;
    let mesh = Mesh::start(&BTreeMap::from([(1, a), (2, b)]))
        .await
        .unwrap();
    let mut s = tokio::net::TcpStream::connect(mesh.route(1, 2, b).client)
        .await
        .unwrap();
    let mut buf = [0u8; 4];
    s.write_all(b"abcd").await.unwrap();
    timeout(SHORT, s.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"abcd");
    mesh.links.cut(1, 2);
    s.write_all(b"efgh").await.unwrap();
    assert!(timeout(SHORT, s.read_exact(&mut buf)).await.is_err());
    mesh.links.heal_all();
    timeout(SHORT, s.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"efgh");
}

//! The connection limit: past `--max-connections`, new connections wait (in the kernel's
//! backlog) until an open one closes, then are served.

use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::{raw_h1, read_head, server_with};

#[tokio::test]
async fn a_connection_past_the_limit_waits_for_one_to_close() {
    let s = server_with(&["--max-connections", "2"]);
    let list = raw_h1("ListStreams", &json!({}));
    let first = TcpStream::connect(s.addr).await.unwrap();
    let mut second = TcpStream::connect(s.addr).await.unwrap();
    // The kernel completes the third handshake from its backlog; the server has not accepted it.
    let mut third = TcpStream::connect(s.addr).await.unwrap();
    third.write_all(&list).await.unwrap();
    assert_eq!(
        read_head(&mut third, Duration::from_millis(700)).await,
        None,
        "answered a third connection while two were open"
    );

    drop(first);
    let head = read_head(&mut third, Duration::from_secs(5))
        .await
        .expect("answered once a connection closed");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // The connection that stayed open was being served all along.
    second.write_all(&list).await.unwrap();
    let head = read_head(&mut second, Duration::from_secs(5))
        .await
        .expect("an open connection is served");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

//! Shutdown closes every connection with 320 CONNECTION_FORCED.

use warren_tests::raw::Raw;
use warren_tests::*;

#[tokio::test]
async fn shutdown_sends_connection_forced_and_waits_for_clients() {
    let s = start().await;
    let mut raw = Raw::connect(s.addr()).await;
    raw.open_channel(1).await;
    let stopping = tokio::spawn(s.shutdown());
    let (code, text) = raw.expect_connection_close().await;
    assert_eq!(code, 320);
    assert_eq!(
        text,
        "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"
    );
    tokio::time::timeout(warren_tests::PATIENCE, stopping)
        .await
        .expect("shutdown completes once clients answered")
        .unwrap();
}

//! Listing client connections and closing one.

use crate::common::*;
use lapin::{Connection, ConnectionProperties};

#[test]
fn a_connection_is_listed_and_closed_by_name() {
    let w = Warren::start();
    let url = w.amqp_url();
    let conn =
        w.rt.block_on(Connection::connect(&url, ConnectionProperties::default()))
            .expect("lapin connects");

    let list = w.json(&["list", "connections"]);
    let all = list.as_array().unwrap();
    assert_eq!(all.len(), 1, "{list}");
    assert_eq!(all[0]["user"], "guest");
    assert_eq!(all[0]["vhost"], "/");
    // "127.0.0.1:PORT -> 127.0.0.1:PORT": spaces and '>' must survive the path.
    let name = all[0]["name"].as_str().unwrap().to_string();
    assert!(name.contains(" -> "), "{name}");

    let table = w.ok(&["list", "connections"]);
    assert!(table.contains(&format!("| {name} |")), "{table}");

    w.ok(&[
        "close",
        "connection",
        "--name",
        &name,
        "--reason",
        "closed by warrenctl",
    ]);
    eventually("the client to see its connection closed", || {
        !conn.status().connected()
    });
    eventually("the connection to leave the list", || {
        w.json(&["list", "connections"]).as_array().unwrap().is_empty()
    });

    let stderr = w.fails(65, &["close", "connection", "--name", &name]);
    assert!(stderr.contains("Not Found"), "{stderr}");
}

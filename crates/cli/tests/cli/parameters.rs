//! The cluster name, global and runtime parameters, feature flags and
//! deprecated features through the CLI.

use crate::common::*;
use serde_json::{json, Value};

/// The parameter named `name` in `vhost` in a JSON list, if there is one.
fn parameter<'a>(list: &'a Value, vhost: &str, name: &str) -> Option<&'a Value> {
    list.as_array()
        .expect("a JSON list")
        .iter()
        .find(|p| p["vhost"] == vhost && p["name"] == name)
}

#[test]
fn the_cluster_name_is_shown_and_set() {
    let w = Warren::start();
    let before = w.json(&["show", "cluster-name"]);
    assert!(before["name"].as_str().is_some_and(|n| !n.is_empty()), "{before}");

    w.ok(&["set", "cluster-name", "--name", "cli-cluster"]);
    assert_eq!(w.json(&["show", "cluster-name"]), json!({"name": "cli-cluster"}));
    let table = w.ok(&["show", "cluster-name"]);
    assert!(table.contains("| name | cli-cluster |"), "{table}");
    assert_eq!(
        w.ok(&["--format", "tsv", "show", "cluster-name"]),
        "key\tvalue\nname\tcli-cluster\n"
    );
    // It is the cluster_name global parameter, and the overview's.
    let globals = w.json(&["list", "global-parameters"]);
    assert_eq!(find(&globals, "cluster_name")["value"], "cli-cluster");
    assert_eq!(w.json(&["show", "overview"])["cluster_name"], "cli-cluster");

    // Only administrators may rename the cluster.
    w.ok(&[
        "declare",
        "user",
        "--name",
        "cli-m",
        "--password",
        "p",
        "--tags",
        "management",
    ]);
    w.fails(
        77,
        &[
            "--username",
            "cli-m",
            "--password",
            "p",
            "set",
            "cluster-name",
            "--name",
            "x",
        ],
    );
    assert_eq!(w.json(&["show", "cluster-name"])["name"], "cli-cluster");
    w.fails(64, &["set", "cluster-name"]);
}

#[test]
fn global_parameters_are_declared_listed_and_deleted() {
    let w = Warren::start();
    // The broker's identity is always there (cluster_name once it is set).
    let globals = w.json(&["list", "global-parameters"]);
    find(&globals, "internal_cluster_id");

    w.ok(&[
        "declare",
        "global-parameter",
        "--name",
        "cli-g",
        "--value",
        r#"{"a":[1,2]}"#,
    ]);
    let globals = w.json(&["list", "global-parameters"]);
    assert_eq!(find(&globals, "cli-g")["value"], json!({"a": [1, 2]}));
    let tsv = w.ok(&["--format", "tsv", "list", "global-parameters"]);
    assert!(tsv.starts_with("name\tvalue\n"), "{tsv}");
    assert!(tsv.contains("cli-g\t{\"a\":[1,2]}\n"), "{tsv}");

    // Declaring it again updates it; a string value shows with its quotes.
    w.ok(&[
        "declare",
        "global-parameter",
        "--name",
        "cli-g",
        "--value",
        r#""text""#,
    ]);
    let globals = w.json(&["list", "global-parameters"]);
    assert_eq!(find(&globals, "cli-g")["value"], "text");
    let table = w.ok(&["list", "global-parameters"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("| cli-g ") && l.contains(r#""text""#)),
        "{table}"
    );

    w.ok(&["delete", "global-parameter", "--name", "cli-g"]);
    let names = w.names(&["list", "global-parameters"]);
    assert!(!names.contains(&"cli-g".to_string()), "{names:?}");
    w.fails(65, &["delete", "global-parameter", "--name", "cli-g"]);
    w.ok(&["delete", "global-parameter", "--name", "cli-g", "--idempotently"]);

    let stderr = w.fails(
        64,
        &[
            "declare",
            "global-parameter",
            "--name",
            "cli-g",
            "--value",
            "text",
        ],
    );
    assert!(stderr.contains("not valid JSON"), "{stderr}");
    let names = w.names(&["list", "global-parameters"]);
    assert!(!names.contains(&"cli-g".to_string()), "{names:?}");
}

#[test]
fn parameters_are_declared_listed_and_deleted() {
    let w = Warren::start();
    let upstream = json!({"uri": "amqp://remote", "max-hops": 1});
    w.ok(&[
        "declare",
        "parameter",
        "--component",
        "federation-upstream",
        "--name",
        "cli-up",
        "--value",
        &upstream.to_string(),
    ]);
    let all = w.json(&["list", "parameters"]);
    let p = parameter(&all, "/", "cli-up").unwrap_or_else(|| panic!("{all}"));
    assert_eq!(p["component"], "federation-upstream");
    assert_eq!(p["value"], upstream);
    let tsv = w.ok(&["--format", "tsv", "list", "parameters"]);
    assert!(tsv.starts_with("vhost\tcomponent\tname\tvalue\n"), "{tsv}");
    assert!(
        tsv.contains(&format!("/\tfederation-upstream\tcli-up\t{upstream}\n")),
        "{tsv}"
    );
    let table = w.ok(&["list", "parameters"]);
    assert!(table.contains("| federation-upstream "), "{table}");

    // --component narrows the list.
    let of = |component: &str| w.json(&["list", "parameters", "--component", component]);
    assert!(parameter(&of("federation-upstream"), "/", "cli-up").is_some());
    assert!(parameter(&of("shovel"), "/", "cli-up").is_none());

    // Declared in --vhost; listed from every vhost.
    w.ok(&["declare", "vhost", "--name", "cli-v"]);
    w.ok(&[
        "--vhost",
        "cli-v",
        "declare",
        "parameter",
        "--component",
        "federation-upstream",
        "--name",
        "cli-up",
        "--value",
        r#"{"uri":"amqp://other"}"#,
    ]);
    let all = w.json(&["list", "parameters"]);
    assert_eq!(parameter(&all, "/", "cli-up").unwrap()["value"], upstream);
    assert_eq!(
        parameter(&all, "cli-v", "cli-up").unwrap_or_else(|| panic!("{all}"))["value"],
        json!({"uri": "amqp://other"})
    );

    w.ok(&[
        "delete",
        "parameter",
        "--component",
        "federation-upstream",
        "--name",
        "cli-up",
    ]);
    let all = w.json(&["list", "parameters"]);
    assert!(parameter(&all, "/", "cli-up").is_none(), "{all}");
    assert!(parameter(&all, "cli-v", "cli-up").is_some(), "{all}");
    w.fails(
        65,
        &[
            "delete",
            "parameter",
            "--component",
            "federation-upstream",
            "--name",
            "cli-up",
        ],
    );
    w.ok(&[
        "delete",
        "parameter",
        "--component",
        "federation-upstream",
        "--name",
        "cli-up",
        "--idempotently",
    ]);
    w.ok(&[
        "--vhost",
        "cli-v",
        "delete",
        "parameter",
        "--component",
        "federation-upstream",
        "--name",
        "cli-up",
    ]);
    let all = w.json(&["list", "parameters"]);
    assert!(parameter(&all, "cli-v", "cli-up").is_none(), "{all}");
}

#[test]
fn bad_parameters_are_refused() {
    let w = Warren::start();
    let stderr = w.fails(
        65,
        &[
            "declare",
            "parameter",
            "--component",
            "cli-no-such-component",
            "--name",
            "p",
            "--value",
            "{}",
        ],
    );
    assert!(
        stderr.contains("component cli-no-such-component not found"),
        "{stderr}"
    );
    let stderr = w.fails(
        64,
        &[
            "declare",
            "parameter",
            "--component",
            "federation-upstream",
            "--name",
            "p",
            "--value",
            "{uri: x}",
        ],
    );
    assert!(stderr.contains("not valid JSON"), "{stderr}");
    let all = w.json(&["list", "parameters"]);
    assert!(parameter(&all, "/", "p").is_none(), "{all}");
    w.fails(
        65,
        &[
            "delete",
            "parameter",
            "--component",
            "shovel",
            "--name",
            "cli-no-such-shovel",
        ],
    );
}

#[test]
fn feature_flags_are_listed_and_enabled() {
    let w = Warren::start();
    let flags = w.json(&["list", "feature-flags"]);
    let all = flags.as_array().expect("a JSON list");
    assert!(!all.is_empty(), "{flags}");
    for f in all {
        assert!(f["name"].is_string() && f["state"].is_string(), "{f}");
    }
    let table = w.ok(&["list", "feature-flags"]);
    let header = table.lines().nth(1).unwrap_or_default();
    for column in ["name", "state", "stability", "provided_by"] {
        assert!(header.contains(&format!(" {column} ")), "{table}");
    }
    let tsv = w.ok(&["--format", "tsv", "list", "feature-flags"]);
    assert!(tsv.starts_with("name\tstate\tstability\tprovided_by\n"), "{tsv}");

    // Enabling an enabled flag succeeds and leaves it enabled.
    let name = |f: &Value| f["name"].as_str().unwrap().to_string();
    let enabled = name(
        all.iter()
            .find(|f| f["state"] == "enabled")
            .expect("an enabled flag"),
    );
    w.ok(&["enable", "feature-flag", "--name", &enabled]);
    let flags = w.json(&["list", "feature-flags"]);
    assert_eq!(find(&flags, &enabled)["state"], "enabled", "{flags}");
    // Warren refuses the flags of features it lacks, with its reason.
    if let Some(disabled) = all.iter().find(|f| f["state"] == "disabled").map(name) {
        let stderr = w.fails(65, &["enable", "feature-flag", "--name", &disabled]);
        assert!(stderr.contains(&disabled), "{stderr}");
        let flags = w.json(&["list", "feature-flags"]);
        assert_eq!(find(&flags, &disabled)["state"], "disabled", "{flags}");
    }

    let stderr = w.fails(65, &["enable", "feature-flag", "--name", "cli_no_such_flag"]);
    assert!(stderr.contains("unsupported"), "{stderr}");
    w.fails(64, &["enable", "feature-flag"]);
}

#[test]
fn deprecated_features_are_listed() {
    let w = Warren::start();
    for args in [
        &["list", "deprecated-features"][..],
        &["list", "deprecated-features", "--used"][..],
    ] {
        let list = w.json(args);
        for f in list.as_array().expect("a JSON list") {
            assert!(f["name"].is_string(), "{f}");
            assert!(f["deprecation_phase"].is_string(), "{f}");
        }
        let mut tsv_args = vec!["--format", "tsv"];
        tsv_args.extend_from_slice(args);
        let tsv = w.ok(&tsv_args);
        assert!(
            tsv.starts_with("name\tdeprecation_phase\tprovided_by\tdoc_url\n"),
            "{tsv}"
        );
        assert_eq!(tsv.lines().count(), list.as_array().unwrap().len() + 1, "{tsv}");
    }
    // What is in use is among what is deprecated.
    let all = names(&w.json(&["list", "deprecated-features"]));
    for used in names(&w.json(&["list", "deprecated-features", "--used"])) {
        assert!(all.contains(&used), "{used} not in {all:?}");
    }
}

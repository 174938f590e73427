//! Rendering API objects: a boxed table for people, the API's JSON
//! untouched for scripts, or tab-separated values with a header row.
//!
//! Tables and TSV show the columns chosen per noun (`name`, `messages`...);
//! a column is a dotted path into the object (`queue.name`). JSON shows
//! whole objects, every field the API returned.

use serde_json::Value;

use crate::args::Format;

/// One column: its header and where its value is in an object.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub header: &'static str,
    pub path: &'static str,
    /// Shown as compact JSON, whatever it is (a parameter's `value`, which
    /// `--value` takes back as JSON), rather than flattened for reading.
    pub as_json: bool,
}

/// A column whose header is its path.
pub const fn col(path: &'static str) -> Column {
    Column {
        header: path,
        path,
        as_json: false,
    }
}

/// A column whose header is its path and whose values show as compact
/// JSON: `"x"` with its quotes, `[1,2]` and `{}` as they are.
pub const fn json_col(path: &'static str) -> Column {
    Column {
        header: path,
        path,
        as_json: true,
    }
}

/// A list of objects, one row each.
pub fn list(format: Format, items: &Value, columns: &[Column]) -> String {
    let empty = Vec::new();
    let rows: Vec<Vec<Cell>> = items
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|item| columns.iter().map(|c| Cell::in_column(c, item)).collect())
        .collect();
    let headers: Vec<&str> = columns.iter().map(|c| c.header).collect();
    match format {
        Format::Json => json(items),
        Format::Tsv => tsv(&headers, &rows),
        Format::Table => table(&headers, &rows),
    }
}

/// One object as `key  value` rows.
pub fn object(format: Format, item: &Value, fields: &[Column]) -> String {
    let rows: Vec<Vec<Cell>> = fields
        .iter()
        .map(|f| vec![Cell::text(f.header), Cell::in_column(f, item)])
        .collect();
    match format {
        Format::Json => json(item),
        Format::Tsv => tsv(&["key", "value"], &rows),
        Format::Table => table(&["key", "value"], &rows),
    }
}

/// Pretty JSON with a final newline.
pub fn json(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

/// `a.b.c` inside nested objects; `None` when any step is missing.
fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, key| v.get(key))
}

struct Cell {
    text: String,
    numeric: bool,
}

impl Cell {
    fn text(s: &str) -> Cell {
        Cell {
            text: s.to_string(),
            numeric: false,
        }
    }

    /// The cell of `column` in `item`.
    fn in_column(column: &Column, item: &Value) -> Cell {
        let v = lookup(item, column.path);
        match v {
            Some(v) if column.as_json => Cell {
                text: v.to_string(),
                numeric: v.is_number(),
            },
            _ => Cell::of(v),
        }
    }

    /// Strings as they are, lists of scalars joined by commas (user tags),
    /// empty objects as nothing, other structures as compact JSON.
    fn of(v: Option<&Value>) -> Cell {
        let text = match v {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(a)) if a.iter().all(|x| !x.is_array() && !x.is_object()) => a
                .iter()
                .map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            Some(Value::Object(m)) if m.is_empty() => String::new(),
            Some(other) => other.to_string(),
        };
        Cell {
            text,
            numeric: matches!(v, Some(Value::Number(_))),
        }
    }
}

/// Control characters would break the grid or drive the terminal (escape
/// sequences in payloads): shown escaped.
fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn table(headers: &[&str], rows: &[Vec<Cell>]) -> String {
    let head: Vec<String> = headers.iter().map(|h| printable(h)).collect();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| printable(&c.text)).collect())
        .collect();
    // Columns in terminal cells: CJK and emoji take two, combining marks none.
    let width = |s: &str| unicode_width::UnicodeWidthStr::width(s);
    let mut widths: Vec<usize> = head.iter().map(|h| width(h)).collect();
    for row in &body {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let rule = {
        let mut s = String::from("+");
        for w in &widths {
            s.push_str(&"-".repeat(w + 2));
            s.push('+');
        }
        s.push('\n');
        s
    };
    let line = |cells: &[String], numeric: &dyn Fn(usize) -> bool| {
        let mut s = String::from("|");
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(w - width(cell));
            if numeric(i) {
                s.push_str(&format!(" {pad}{cell} |"));
            } else {
                s.push_str(&format!(" {cell}{pad} |"));
            }
        }
        s.push('\n');
        s
    };
    let mut out = rule.clone();
    out.push_str(&line(&head, &|_| false));
    out.push_str(&rule);
    for (cells, row) in body.iter().zip(rows) {
        out.push_str(&line(cells, &|i| row[i].numeric));
    }
    if !body.is_empty() {
        out.push_str(&rule);
    }
    out
}

/// Linear TSV: a header row, then one line per row; backslash, tab and
/// newline inside a value are written `\\`, `\t` and `\n`.
fn tsv(headers: &[&str], rows: &[Vec<Cell>]) -> String {
    let escape = |s: &str| printable(&s.replace('\\', "\\\\"));
    let mut out = headers.iter().map(|h| escape(h)).collect::<Vec<_>>().join("\t");
    out.push('\n');
    for row in rows {
        out.push_str(&row.iter().map(|c| escape(&c.text)).collect::<Vec<_>>().join("\t"));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const COLS: [Column; 3] = [
        col("name"),
        col("messages"),
        Column {
            header: "queue",
            path: "queue.name",
            as_json: false,
        },
    ];

    fn items() -> Value {
        json!([
            {"name": "a", "messages": 3, "queue": {"name": "q1"}},
            {"name": "longer\tname", "messages": 120, "tags": ["x", "y"]},
        ])
    }

    #[test]
    fn tables_align_columns_and_right_align_numbers() {
        let out = list(Format::Table, &items(), &COLS);
        assert_eq!(
            out,
            "+--------------+----------+-------+\n\
             | name         | messages | queue |\n\
             +--------------+----------+-------+\n\
             | a            |        3 | q1    |\n\
             | longer\\tname |      120 |       |\n\
             +--------------+----------+-------+\n"
        );
    }

    #[test]
    fn an_empty_list_is_a_header() {
        let out = list(Format::Table, &json!([]), &COLS[..1]);
        assert_eq!(out, "+------+\n| name |\n+------+\n");
    }

    #[test]
    fn tsv_has_a_header_and_escapes_tabs() {
        let out = list(Format::Tsv, &items(), &COLS);
        assert_eq!(out, "name\tmessages\tqueue\na\t3\tq1\nlonger\\tname\t120\t\n");
    }

    #[test]
    fn json_is_the_whole_object() {
        let out = list(Format::Json, &items(), &COLS);
        let back: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back, items());
    }

    #[test]
    fn wide_characters_keep_the_borders_aligned() {
        let cell = |t: &str| Cell {
            text: t.to_string(),
            numeric: false,
        };
        let rows = vec![vec![cell("日本語"), cell("x")], vec![cell("ab"), cell("y")]];
        let out = table(&["name", "v"], &rows);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[3], "| 日本語 | x |");
        assert_eq!(lines[4], "| ab     | y |");
    }

    #[test]
    fn control_characters_are_escaped_not_sent_to_the_terminal() {
        assert_eq!(printable("\u{1b}[31mRED\tx"), "\\u{1b}[31mRED\\tx");
    }

    #[test]
    fn cells_flatten_lists_and_show_structures_as_json() {
        assert_eq!(
            Cell::of(Some(&json!(["administrator", "monitoring"]))).text,
            "administrator,monitoring"
        );
        assert_eq!(Cell::of(Some(&json!({}))).text, "");
        assert_eq!(
            Cell::of(Some(&json!({"max-length": 10}))).text,
            r#"{"max-length":10}"#
        );
        assert_eq!(Cell::of(Some(&json!(true))).text, "true");
        assert_eq!(Cell::of(None).text, "");
    }

    #[test]
    fn json_columns_show_values_as_they_would_be_given_back() {
        let items = json!([
            {"value": "x"},
            {"value": ["a", "b"]},
            {"value": {}},
            {"value": {"max-queues": 10}},
            {"value": null},
            {},
        ]);
        let out = list(Format::Tsv, &items, &[json_col("value")]);
        assert_eq!(
            out,
            "value\n\"x\"\n[\"a\",\"b\"]\n{}\n{\"max-queues\":10}\nnull\n\n"
        );
    }

    #[test]
    fn objects_are_key_value_rows() {
        let out = object(Format::Tsv, &json!({"a": {"b": 1}}), &[col("a.b"), col("c")]);
        assert_eq!(out, "key\tvalue\na.b\t1\nc\t\n");
    }
}

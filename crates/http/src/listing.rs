//! RabbitMQ's list parameters, shared by every listing endpoint: `name`
//! (substring or, with `use_regex=true`, a regular expression; both
//! case-insensitive), `sort`/`sort_reverse`, `page`/`page_size` (which turn
//! the array into a page object) and `columns` (dotted paths to keep).

use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::ApiError;

const MAX_PAGE_SIZE: u64 = 500;
const DEFAULT_PAGE_SIZE: u64 = 100;

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct ListParams {
    page: Option<String>,
    page_size: Option<String>,
    name: Option<String>,
    use_regex: Option<String>,
    columns: Option<String>,
    sort: Option<String>,
    sort_reverse: Option<String>,
}

fn field<'a>(item: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(item, |v, k| v.get(k))
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
        }
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (x, y) => x.is_some().cmp(&y.is_some()),
    }
}

/// Keeps the dotted `columns` of an item (`message_stats.publish`).
fn project(item: &Value, columns: &[&str]) -> Value {
    let mut out = Map::new();
    for c in columns {
        let Some(v) = field(item, c) else { continue };
        let mut parts = c.split('.').peekable();
        let mut at = &mut out;
        while let Some(p) = parts.next() {
            if parts.peek().is_none() {
                at.insert(p.to_string(), v.clone());
                break;
            }
            let next = at.entry(p.to_string()).or_insert_with(|| json!({}));
            match next.as_object_mut() {
                Some(m) => at = m,
                None => break,
            }
        }
    }
    Value::Object(out)
}

fn truthy(v: &Option<String>) -> bool {
    v.as_deref() == Some("true")
}

/// The items a listing shows, in order, and its page when it is paged.
pub struct Selection<T> {
    pub items: Vec<T>,
    pub page: Option<Page>,
}

/// RabbitMQ's page object, around the `items` shown.
#[derive(Serialize)]
pub struct Page {
    filtered_count: u64,
    item_count: u64,
    page: u64,
    page_count: u64,
    page_size: u64,
    total_count: u64,
}

/// A listing's answer: the items, or RabbitMQ's page object holding them.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Listing<I> {
    All(Vec<I>),
    Paged {
        #[serde(flatten)]
        page: Page,
        items: Vec<I>,
    },
}

impl<I> Listing<I> {
    pub fn of(items: Vec<I>, page: Option<Page>) -> Listing<I> {
        match page {
            None => Listing::All(items),
            Some(page) => Listing::Paged { page, items },
        }
    }
}

impl Listing<Value> {
    /// The answer as JSON, moving the items rather than copying them.
    fn into_value(self) -> Value {
        match self {
            Listing::All(items) => Value::Array(items),
            Listing::Paged { page, items } => {
                let mut v = json!(page);
                v["items"] = Value::Array(items);
                v
            }
        }
    }
}

impl ListParams {
    /// Filters, sorts, pages and projects `items` (already in the default
    /// order) as RabbitMQ does.
    pub fn apply(&self, items: Vec<Value>) -> Result<Json<Value>, ApiError> {
        let pick = |i: &Value, keys: Option<&[&str]>| match (keys, i.as_object()) {
            (Some(keys), Some(m)) => Value::Object(
                m.iter()
                    .filter(|(k, _)| keys.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            _ => i.clone(),
        };
        self.apply_to(items, |i| i["name"].as_str().map(String::from), pick)
    }

    /// [`ListParams::apply`] over any items: `name` is what the `name`
    /// parameter filters on, and `to_value(item, fields)` makes an item's
    /// JSON with only the top-level `fields` asked for (all with `None`).
    /// It is called for the items shown, with the fields `columns` name,
    /// and when sorting, for every item with just the sort field: a page,
    /// or `columns=name,messages`, of a long listing costs only what it
    /// shows.
    pub fn apply_to<T>(
        &self,
        items: Vec<T>,
        name: impl Fn(&T) -> Option<String>,
        mut to_value: impl FnMut(&T, Option<&[&str]>) -> Value,
    ) -> Result<Json<Value>, ApiError> {
        let selection = self.select(items, name, |i, sort| to_value(i, Some(sort)))?;
        let columns = self.columns();
        let mut tops: Vec<&str> = columns.iter().map(|c| c.split('.').next().unwrap_or(c)).collect();
        tops.dedup();
        let fields = (!columns.is_empty()).then_some(tops.as_slice());
        let shown: Vec<Value> = selection
            .items
            .iter()
            .map(|i| to_value(i, fields))
            .map(|v| {
                if columns.is_empty() {
                    v
                } else {
                    project(&v, &columns)
                }
            })
            .collect();
        Ok(Json(Listing::of(shown, selection.page).into_value()))
    }

    /// The dotted paths of `columns`.
    pub fn columns(&self) -> Vec<&str> {
        self.columns
            .as_deref()
            .map(|c| c.split(',').filter(|c| !c.is_empty()).collect())
            .unwrap_or_default()
    }

    /// Filters, sorts and pages `items` as RabbitMQ does, without making
    /// their JSON: `sort_key(item, [field])` gives an item's JSON with just
    /// the top-level field sorted on. Listings whose items serialize
    /// straight from typed views use this and write the items themselves.
    pub fn select<T>(
        &self,
        mut items: Vec<T>,
        name: impl Fn(&T) -> Option<String>,
        mut sort_key: impl FnMut(&T, &[&str]) -> Value,
    ) -> Result<Selection<T>, ApiError> {
        let total = items.len() as u64;
        if let Some(wanted) = self.name.as_deref().filter(|n| !n.is_empty()) {
            if truthy(&self.use_regex) {
                let re = regex::RegexBuilder::new(wanted)
                    .case_insensitive(true)
                    .build()
                    .map_err(|_| ApiError::BadRequest("Pagination parameters are invalid".into()))?;
                items.retain(|i| name(i).is_some_and(|n| re.is_match(&n)));
            } else {
                let needle = wanted.to_lowercase();
                items.retain(|i| name(i).is_some_and(|n| n.to_lowercase().contains(&needle)));
            }
        }
        if let Some(sort) = self.sort.as_deref().filter(|s| !s.is_empty()) {
            let top = [sort.split('.').next().unwrap_or(sort)];
            let mut keyed: Vec<(Value, T)> = items.drain(..).map(|i| (sort_key(&i, &top), i)).collect();
            keyed.sort_by(|a, b| compare(field(&a.0, sort), field(&b.0, sort)));
            items = keyed.into_iter().map(|(_, i)| i).collect();
        }
        if truthy(&self.sort_reverse) {
            items.reverse();
        }
        let filtered = items.len() as u64;
        let Some(page) = &self.page else {
            return Ok(Selection { items, page: None });
        };
        let invalid = || ApiError::Status(400, "bad_request", "Pagination parameters are invalid".into());
        let page: u64 = page.parse().map_err(|_| invalid())?;
        let page_size: u64 = match &self.page_size {
            Some(s) => s.parse().map_err(|_| invalid())?,
            None => DEFAULT_PAGE_SIZE,
        };
        if page == 0 || page_size == 0 || page_size > MAX_PAGE_SIZE {
            return Err(ApiError::Status(
                400,
                "invalid_pagination_parameters",
                format!("Invalid pagination parameters: page number {page}, page size {page_size}"),
            ));
        }
        let page_count = filtered.div_ceil(page_size);
        if page > page_count.max(1) {
            return Err(ApiError::Status(
                400,
                "page_out_of_range",
                format!("Page out of range, page: {page} page size: {page_size}, len: {filtered}"),
            ));
        }
        let items: Vec<T> = items
            .into_iter()
            .skip(((page - 1) * page_size) as usize)
            .take(page_size as usize)
            .collect();
        let page = Page {
            filtered_count: filtered,
            item_count: items.len() as u64,
            page,
            page_count,
            page_size,
            total_count: total,
        };
        Ok(Selection {
            items,
            page: Some(page),
        })
    }

    /// No filter, sort, page or columns: the default listing.
    pub fn is_plain(&self) -> bool {
        let set = |o: &Option<String>| o.as_deref().is_some_and(|v| !v.is_empty());
        !(set(&self.page)
            || set(&self.name)
            || set(&self.columns)
            || set(&self.sort)
            || truthy(&self.sort_reverse))
    }

    /// `columns` for a single object.
    pub fn project_one(&self, item: Value) -> Json<Value> {
        match self.columns.as_deref() {
            Some(c) if !c.is_empty() => {
                let columns: Vec<&str> = c.split(',').collect();
                Json(project(&item, &columns))
            }
            _ => Json(item),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> ListParams {
        serde_urlencoded::from_str(q).unwrap()
    }

    fn items() -> Vec<Value> {
        (1..=5)
            .map(|i| json!({"name": format!("q{i}"), "messages": 10 - i, "message_stats": {"publish": i}}))
            .collect()
    }

    #[test]
    fn pages_filters_and_projects_like_rabbitmq() {
        let Json(v) = params("page=2&page_size=2&columns=name,message_stats.publish")
            .apply(items())
            .unwrap();
        assert_eq!(
            v,
            json!({"filtered_count":5,"item_count":2,"items":[
                {"name":"q3","message_stats":{"publish":3}},{"name":"q4","message_stats":{"publish":4}}],
                "page":2,"page_count":3,"page_size":2,"total_count":5})
        );
        let Json(v) = params("name=Q[24]$&use_regex=true").apply(items()).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);
        let Json(v) = params("sort=messages&columns=name").apply(items()).unwrap();
        assert_eq!(v[0]["name"], "q5");
        assert!(params("page=4&page_size=2").apply(items()).is_err());
        assert!(params("page=1&page_size=501").apply(items()).is_err());
    }
}

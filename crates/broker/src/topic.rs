//! Topic routing: a trie over dot-separated words with `*` (one word) and
//! `#` (zero or more words) edges.
//!
//! Keys split the way RabbitMQ splits them: the empty key has no words,
//! and `a..b` has three (`a`, the empty word, `b`).

use std::collections::HashMap;

/// Splits a routing or binding key into words.
pub fn words(key: &str) -> Vec<&str> {
    if key.is_empty() {
        Vec::new()
    } else {
        key.split('.').collect()
    }
}

pub struct TopicTrie<T> {
    root: Node<T>,
}

struct Node<T> {
    words: HashMap<Box<str>, Node<T>>,
    star: Option<Box<Node<T>>>,
    hash: Option<Box<Node<T>>>,
    values: Vec<T>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node {
            words: HashMap::new(),
            star: None,
            hash: None,
            values: Vec::new(),
        }
    }
}

impl<T> Default for TopicTrie<T> {
    fn default() -> Self {
        TopicTrie {
            root: Node::default(),
        }
    }
}

impl<T: Clone> TopicTrie<T> {
    pub fn insert(&mut self, pattern: &str, value: T) {
        let mut node = &mut self.root;
        for w in words(pattern) {
            node = match w {
                "*" => node.star.get_or_insert_with(Default::default),
                "#" => node.hash.get_or_insert_with(Default::default),
                w => node.words.entry(w.into()).or_default(),
            };
        }
        node.values.push(value);
    }

    /// Removes the values for `pattern` that `pred` selects.
    pub fn remove(&mut self, pattern: &str, pred: impl Fn(&T) -> bool) {
        fn walk<T: Clone>(node: &mut Node<T>, ws: &[&str], pred: &dyn Fn(&T) -> bool) {
            let Some((first, rest)) = ws.split_first() else {
                node.values.retain(|v| !pred(v));
                return;
            };
            let child = match *first {
                "*" => node.star.as_deref_mut(),
                "#" => node.hash.as_deref_mut(),
                w => node.words.get_mut(w),
            };
            if let Some(child) = child {
                walk(child, rest, pred);
                if child.is_empty() {
                    match *first {
                        "*" => node.star = None,
                        "#" => node.hash = None,
                        w => {
                            node.words.remove(w);
                        }
                    }
                }
            }
        }
        walk(&mut self.root, &words(pattern), &pred);
    }

    /// Appends every value whose pattern matches `key` (possibly repeated).
    pub fn matches(&self, key: &str, out: &mut Vec<T>) {
        self.root.collect(&words(key), out);
    }
}

impl<T: Clone> Node<T> {
    fn is_empty(&self) -> bool {
        self.values.is_empty() && self.words.is_empty() && self.star.is_none() && self.hash.is_none()
    }

    fn collect(&self, ws: &[&str], out: &mut Vec<T>) {
        if let Some(hash) = &self.hash {
            // `#` takes zero or more words.
            for skip in 0..=ws.len() {
                hash.collect(&ws[skip..], out);
            }
        }
        let Some((first, rest)) = ws.split_first() else {
            out.extend(self.values.iter().cloned());
            return;
        };
        if let Some(child) = self.words.get(*first) {
            child.collect(rest, out);
        }
        if let Some(star) = &self.star {
            star.collect(rest, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference: a direct recursive reading of the topic rules.
    fn naive(pattern: &[&str], key: &[&str]) -> bool {
        match pattern.split_first() {
            None => key.is_empty(),
            Some((&"#", rest)) => (0..=key.len()).any(|i| naive(rest, &key[i..])),
            Some((&"*", rest)) => !key.is_empty() && naive(rest, &key[1..]),
            Some((w, rest)) => key.first() == Some(w) && naive(rest, &key[1..]),
        }
    }

    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_string()),
            Just("b".to_string()),
            Just(String::new()),
            Just("c".to_string())
        ]
    }

    fn pattern_word() -> impl Strategy<Value = String> {
        prop_oneof![word(), Just("*".to_string()), Just("#".to_string())]
    }

    proptest! {
        #[test]
        fn trie_agrees_with_naive_matcher(
            patterns in proptest::collection::vec(proptest::collection::vec(pattern_word(), 0..5), 1..8),
            keys in proptest::collection::vec(proptest::collection::vec(word(), 0..5), 1..8),
        ) {
            let patterns: Vec<String> = patterns.iter().map(|p| p.join(".")).collect();
            let mut trie = TopicTrie::default();
            for (i, p) in patterns.iter().enumerate() {
                trie.insert(p, i);
            }
            for key in keys.iter().map(|k| k.join(".")) {
                let mut got = Vec::new();
                trie.matches(&key, &mut got);
                got.sort_unstable();
                got.dedup();
                let want: Vec<usize> = patterns
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| naive(&words(p), &words(&key)))
                    .map(|(i, _)| i)
                    .collect();
                prop_assert_eq!(got, want, "key {:?} patterns {:?}", key, patterns);
            }
        }
    }

    #[test]
    fn hash_in_the_middle_and_empty_words() {
        let mut t = TopicTrie::default();
        t.insert("a.#.z", 1);
        t.insert("#", 2);
        t.insert("*", 3);
        t.insert("a..b", 4);
        let hits = |k: &str| {
            let mut v = Vec::new();
            t.matches(k, &mut v);
            v.sort_unstable();
            v.dedup();
            v
        };
        assert_eq!(hits("a.z"), vec![1, 2]);
        assert_eq!(hits("a.b.c.z"), vec![1, 2]);
        assert_eq!(hits(""), vec![2]);
        assert_eq!(hits("x"), vec![2, 3]);
        assert_eq!(hits("a..b"), vec![2, 4]);
    }

    #[test]
    fn remove_prunes_and_keeps_others() {
        let mut t = TopicTrie::default();
        t.insert("a.*", 1);
        t.insert("a.*", 2);
        t.remove("a.*", |v| *v == 1);
        let mut v = Vec::new();
        t.matches("a.b", &mut v);
        assert_eq!(v, vec![2]);
        t.remove("a.*", |_| true);
        assert!(t.root.is_empty());
    }
}

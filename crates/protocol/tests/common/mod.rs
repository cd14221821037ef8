//! Reading the shared test vectors in `tests/vectors/` at the workspace root.

use serde_json::Value;
use std::path::PathBuf;

pub struct Vector {
    pub name: String,
    pub json: Value,
}

impl Vector {
    pub fn response_body(&self) -> Vec<u8> {
        let r = &self.json["response"];
        if let Some(t) = r["body_text"].as_str() {
            return t.as_bytes().to_vec();
        }
        let hex = r["body_hex"].as_str().expect("body_text or body_hex");
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    pub fn status(&self) -> u16 {
        self.json["response"]["status"].as_u64().unwrap() as u16
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.json["response"]["headers"]
            .as_array()?
            .iter()
            .find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
            .and_then(|h| h[1].as_str())
    }

    pub fn req(&self, key: &str) -> &str {
        self.json["request"][key].as_str().unwrap()
    }
}

pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

pub fn load(name: &str) -> Vector {
    let path = vectors_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    Vector {
        name: name.to_owned(),
        json: serde_json::from_str(&text).unwrap(),
    }
}

pub fn all() -> Vec<Vector> {
    let mut names: Vec<String> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "json").then(|| p.file_stem().unwrap().to_string_lossy().into())
        })
        .collect();
    names.sort();
    names.iter().map(|n| load(n)).collect()
}

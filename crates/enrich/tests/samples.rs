//! The bundled samples: who said what, which figures.

use storyline_enrich::{facts, Tagger};
use storyline_model::ArticleId;

fn sample(name: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let path =
        std::fs::read_dir(dir).unwrap().filter_map(Result::ok).map(|e| e.path()).find(|p| p.file_name().unwrap().to_string_lossy().starts_with(name)).unwrap();
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn dump() {
    let tagger = Tagger::bundled().unwrap();
    for n in ["000", "001", "002", "003", "004"] {
        let text = sample(n);
        let f = facts(&tagger, &ArticleId(n.into()), &text, chrono::NaiveDate::from_ymd_opt(2021, 5, 12));
        println!("== {n}");
        for m in &f.mentions {
            if m.role.is_some() {
                println!("  mention {:?} {} role {:?}", m.kind, m.text, m.role);
            }
        }
        for q in &f.quotes {
            println!("  quote [{:?} / {:?} / {:?}] {}", q.speaker, q.speaker_mention, q.cue, q.text);
        }
        for x in &f.figures {
            println!("  figure {} ({}) {:?} what={:?} source={:?} when={:?}", x.value, x.text, x.qualifier, x.what, x.source, x.when);
        }
    }
}

//! The bundled sample articles come out clean, with their metadata.

use super::*;

const FIELDS: &[&str] =
    &["id", "source", "url", "title", "published", "authors", "contributors", "outlet", "credited_source", "language", "text", "removed", "warnings"];
const JUNK: &[&str] = &[
    "[ad_1]",
    "[ad_2]",
    "Leave a Reply",
    "Leave a Comment",
    "Source link",
    "Read Full Article",
    "Required fields are marked",
    "photo credit",
    "You may also like",
    "ISRAEL ELECTIONS",
];

fn by_source<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    docs.iter().find(|d| d["source"].as_str().unwrap().ends_with(name)).unwrap_or_else(|| panic!("no document from {name}"))
}

#[test]
fn samples_are_cleaned_and_described() {
    let (docs, out) = extract(&[&examples_dir()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(docs.len(), 5);
    for d in &docs {
        for f in FIELDS {
            assert!(d.get(*f).is_some(), "field {f} missing in {d}");
        }
        let text = d["text"].as_str().unwrap();
        for junk in JUNK {
            assert!(!text.contains(junk), "{junk:?} left in {}", d["source"]);
        }
        assert_eq!(d["language"], "en");
        assert!(text.split("\n\n").count() >= 5, "paragraphs lost in {}", d["source"]);
    }
    let d = by_source(&docs, "000_ee6209165108b612.txt");
    assert_eq!(d["title"], "US sending official to tamp down soaring Israel-Palestine conflict");
    assert_eq!(d["credited_source"], "Anadolu Agency");
    let d = by_source(&docs, "001_cd5b6eb30dfdc74c.txt");
    assert_eq!(d["contributors"], serde_json::json!(["Michael Crowley"]));
    assert!(d["text"].as_str().unwrap().starts_with("A senior American diplomat"));
    let d = by_source(&docs, "003_167c493f75d27566.txt");
    assert_eq!(d["title"], "US sends official to Israel to encourage Gaza de-escalation");
    assert_eq!(d["published"], "2021-05-12T18:58:00");
    assert_eq!(d["authors"], serde_json::json!(["Lahav Harkov", "Tovah Lazaroff"]));
    assert!(!d["text"].as_str().unwrap().contains("A picture taken with a drone"));
    let d = by_source(&docs, "004_49a082d0ec2fb85f.txt");
    assert_eq!(d["published"], "2023-11-03");
    assert_eq!(d["outlet"], "time news");
    let contributors = d["contributors"].as_array().unwrap();
    assert!(contributors.contains(&Value::from("Nidal al-Mughrabi")) && contributors.contains(&Value::from("Idrees Ali")), "{contributors:?}");
    // Every removal says why.
    let reasons: Vec<&str> = d["removed"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap()).collect();
    assert!(reasons.contains(&"dateline") && reasons.contains(&"byline") && reasons.contains(&"credit") && reasons.contains(&"comment_form"), "{reasons:?}");
}

#[test]
fn stdin_is_an_input() {
    let sample = std::fs::read(examples_dir().join("001_cd5b6eb30dfdc74c.txt")).unwrap();
    let mut child = bin().args(["extract", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &sample).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["source"], "-");
    assert!(!doc["text"].as_str().unwrap().contains("[ad_1]"));
}

#[test]
fn parallel_extraction_gives_the_same_output_in_the_same_order() {
    let run = |jobs: &str| bin().args(["extract", "--jobs", jobs]).arg(examples_dir()).output().unwrap().stdout;
    let one = run("1");
    assert!(!one.is_empty());
    assert_eq!(one, run("3"));
}

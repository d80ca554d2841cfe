//! The work stream between publishers and workers, on NATS JetStream.
//!
//! A publisher (`storyline ingest --queue`, `storyline follow --queue`) reads its inputs into
//! raw documents and publishes each to one JetStream stream (file storage, work-queue
//! retention), with the document's content hash as the message id: a document published
//! twice within the duplicate window is dropped by JetStream, and later by the store, whose ids
//! are the same hashes. A publish counts only when JetStream acknowledged it (stored); through
//! a server restart the publisher retries for up to `publish_timeout`.
//!
//! Workers (`storyline worker`) share one durable pull consumer. Each takes a batch, runs
//! [`Pipeline::ingest_documents`] on it (extraction, copies and facts, in every worker at
//! once) and acknowledges the batch only after that returned, that is after the store
//! committed the articles, their copy checks and their facts. While it works it tells
//! JetStream it is still working (`+WPI`), so a long batch is not redelivered; a worker that
//! dies stops doing so, and its batch is delivered to another worker after `ack_wait`. A
//! redelivered document is stored once: the store knows its id.
//!
//! Stories are assigned by one process at a time (the store's story lock: a PostgreSQL
//! advisory lock, released when its session ends), from the store's queue of articles
//! without a story, in batches: a worker runs the story step when the consumer has nothing
//! left to deliver and nothing unacknowledged (the backfill is in), or when `assign_after`
//! passed since it last did. An acknowledged article whose worker died before the story step
//! is still in that queue; the next worker to run the step assigns it.
//!
//! The async client runs on a small runtime this crate owns; the pipeline runs on the
//! calling thread, outside it (the store traits are blocking).

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, stream, AckKind};
use bytes::Bytes;
use futures_util::StreamExt;
use storyline_model::RawDocument;
use storyline_pipeline::{IngestSummary, Inputs, Observer, Pipeline};
use storyline_store::Store;

/// Where the queue is and how it behaves; every constant of the work stream.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// `nats://HOST:PORT` (user and password in the URL when the server wants them).
    pub url: String,
    pub stream: String,
    pub subject: String,
    /// The durable consumer every worker shares.
    pub consumer: String,
    /// How long JetStream remembers a message id to drop a republished document.
    pub duplicate_window: Duration,
    /// How long a delivered batch may go without an ack or a progress note before it is
    /// delivered again (to another worker).
    pub ack_wait: Duration,
    /// Documents a worker takes at once.
    pub batch: usize,
    /// Documents a publisher has in flight at once (awaiting their acks).
    pub in_flight: usize,
    /// How long a publisher keeps retrying one document (a server restart, a lost connection).
    pub publish_timeout: Duration,
    /// Longest a worker lets stored articles wait for their story while the queue is still
    /// busy; when the queue is drained, stories are assigned at once. Longer waits make
    /// larger story batches, which is how one process assigns a backfill.
    pub assign_after: Duration,
}

impl QueueConfig {
    pub fn new(url: impl Into<String>) -> QueueConfig {
        QueueConfig {
            url: url.into(),
            stream: "STORYLINE".into(),
            subject: "storyline.documents".into(),
            consumer: "storyline-workers".into(),
            duplicate_window: Duration::from_secs(20 * 60),
            ack_wait: Duration::from_secs(30),
            batch: 64,
            in_flight: 256,
            publish_timeout: Duration::from_secs(300),
            assign_after: Duration::from_secs(30),
        }
    }
}

/// What can go wrong with the queue itself (a document's own problems are warnings).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot connect to the queue at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("the queue at {url}: {message}")]
    Stream { url: String, message: String },
    #[error("publishing {source_name} to the queue at {url}: {message} (retried for {waited:?}; {unsent} documents of this batch not published)")]
    Publish { url: String, source_name: String, message: String, waited: Duration, unsent: usize },
    #[error("starting the queue client's runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Pipeline(#[from] storyline_pipeline::Error),
}

/// The payload format: the document as JSON, zlib-compressed (`Storyline-Format: 1`).
const FORMAT_HEADER: &str = "Storyline-Format";
const FORMAT: &str = "1";

/// A document as a message payload.
pub fn encode(doc: &RawDocument) -> Bytes {
    let json = serde_json::to_vec(doc).expect("a raw document serialises");
    let mut z = flate2::write::ZlibEncoder::new(Vec::with_capacity(json.len() / 3), flate2::Compression::fast());
    z.write_all(&json).expect("writing to memory");
    Bytes::from(z.finish().expect("writing to memory"))
}

/// A message payload as a document; at most `max_bytes` of JSON are inflated.
pub fn decode(payload: &[u8], max_bytes: u64) -> Result<RawDocument, String> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(payload).take(max_bytes + 1).read_to_end(&mut json).map_err(|e| format!("not a zlib payload: {e}"))?;
    if json.len() as u64 > max_bytes {
        return Err(format!("inflates to more than {max_bytes} bytes"));
    }
    serde_json::from_slice(&json).map_err(|e| format!("not a document: {e}"))
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).thread_name("queue-client").enable_all().build().map_err(Error::Runtime)
}

async fn connect(config: &QueueConfig) -> Result<(async_nats::Client, jetstream::Context, stream::Stream), Error> {
    let client = async_nats::ConnectOptions::new()
        .name("storyline")
        .connection_timeout(Duration::from_secs(10))
        .connect(config.url.as_str())
        .await
        .map_err(|e| Error::Connect { url: config.url.clone(), message: e.to_string() })?;
    let context = jetstream::new(client.clone());
    let stream = context
        .get_or_create_stream(stream::Config {
            name: config.stream.clone(),
            subjects: vec![config.subject.clone()],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::WorkQueue,
            duplicate_window: config.duplicate_window,
            ..Default::default()
        })
        .await
        .map_err(|e| Error::Stream { url: config.url.clone(), message: format!("stream {}: {e}", config.stream) })?;
    Ok((client, context, stream))
}

/// What a publisher did.
#[derive(Debug, Default, Clone)]
pub struct Published {
    pub documents: usize,
    /// Stored by JetStream.
    pub published: usize,
    /// Dropped by JetStream as already published (same id within the duplicate window).
    pub duplicates: usize,
    /// Documents too large for the server's `max_payload` (each reported, none published).
    pub too_large: usize,
    pub warnings: usize,
    pub errors: usize,
}

/// Publishes documents to the stream.
pub struct Publisher {
    runtime: tokio::runtime::Runtime,
    client: async_nats::Client,
    context: jetstream::Context,
    config: QueueConfig,
    pipeline: storyline_pipeline::Config,
}

impl Publisher {
    /// Connects and makes sure the stream exists. `pipeline` gives the read limits.
    pub fn connect(config: QueueConfig, pipeline: storyline_pipeline::Config) -> Result<Publisher, Error> {
        let runtime = runtime()?;
        let (client, context, _) = runtime.block_on(connect(&config))?;
        Ok(Publisher { runtime, client, context, config, pipeline })
    }

    /// Reads the inputs and publishes every document, in bounded batches; returns when
    /// JetStream acknowledged them all.
    pub fn publish_inputs(&self, inputs: &Inputs, observer: &dyn Observer) -> Result<Published, Error> {
        let mut out = Published::default();
        let mut batch: Vec<(String, String, Bytes)> = Vec::new();
        let mut bytes = 0usize;
        let mut failure = None;
        let max_payload = self.client.server_info().max_payload;
        let tally = storyline_pipeline::read::documents(inputs, &self.pipeline, observer, &mut |doc| {
            if failure.is_some() {
                return;
            }
            let payload = encode(&doc);
            if payload.len() > max_payload {
                out.too_large += 1;
                observer.warning(&storyline_ingest_warning(
                    &doc.source,
                    format!(
                        "{} bytes compressed, over the queue server's max_payload of {max_payload} bytes; not published (raise max_payload in nats-server's configuration, or lower --max-document-bytes)",
                        payload.len()
                    ),
                ));
                return;
            }
            bytes += payload.len();
            batch.push((doc.id().0, doc.source, payload));
            if batch.len() >= self.config.in_flight || bytes >= 32 << 20 {
                bytes = 0;
                if let Err(e) = self.publish_batch(&mut batch, &mut out) {
                    failure = Some(e);
                }
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        self.publish_batch(&mut batch, &mut out)?;
        out.documents = tally.documents;
        out.warnings = tally.warnings;
        out.errors = tally.errors + out.too_large;
        Ok(out)
    }

    /// Publishes `(id, source, payload)` triples, all in flight at once, retrying those not
    /// acknowledged until `publish_timeout`; empties `batch`.
    fn publish_batch(&self, batch: &mut Vec<(String, String, Bytes)>, out: &mut Published) -> Result<(), Error> {
        let started = Instant::now();
        let mut pending: Vec<usize> = (0..batch.len()).collect();
        let mut wait = Duration::from_millis(100);
        let result = self.runtime.block_on(async {
            loop {
                let mut acks = Vec::with_capacity(pending.len());
                let mut failed = Vec::new();
                let mut last = String::new();
                for &i in &pending {
                    let (id, _, payload) = &batch[i];
                    let message = jetstream::message::PublishMessage::build().payload(payload.clone()).message_id(id).header(FORMAT_HEADER, FORMAT);
                    match self.context.send_publish(self.config.subject.clone(), message).await {
                        Ok(ack) => acks.push((i, ack)),
                        Err(e) => {
                            last = e.to_string();
                            failed.push(i);
                        }
                    }
                }
                for (i, ack) in acks {
                    match ack.await {
                        Ok(ack) if ack.duplicate => out.duplicates += 1,
                        Ok(_) => out.published += 1,
                        Err(e) => {
                            last = e.to_string();
                            failed.push(i);
                        }
                    }
                }
                if failed.is_empty() {
                    return Ok(());
                }
                failed.sort_unstable();
                if started.elapsed() >= self.config.publish_timeout {
                    return Err(Error::Publish {
                        url: self.config.url.clone(),
                        source_name: batch[failed[0]].1.clone(),
                        message: last,
                        waited: started.elapsed(),
                        unsent: failed.len(),
                    });
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
                pending = failed;
            }
        });
        batch.clear();
        result
    }
}

fn storyline_ingest_warning(input: &str, message: String) -> storyline_pipeline::InputWarning {
    storyline_pipeline::InputWarning { input: input.to_owned(), message, severity: storyline_pipeline::Severity::Error }
}

/// A publisher takes the place of the pipeline for the follower: what it fetched goes to the
/// queue, and the workers store it. `added` counts documents JetStream stored as new.
impl storyline_pipeline::Ingest for Publisher {
    fn ingest(&self, _store: &dyn Store, inputs: &Inputs) -> Result<IngestSummary, storyline_pipeline::Error> {
        let p = self.publish_inputs(inputs, &storyline_pipeline::Quiet).map_err(|e| storyline_pipeline::Error::Queue(e.to_string()))?;
        Ok(IngestSummary {
            documents: p.documents,
            added: p.published,
            already_stored: p.duplicates,
            warnings: p.warnings,
            errors: p.errors,
            ..IngestSummary::default()
        })
    }
}

/// What a worker did so far.
#[derive(Debug, Default, Clone)]
pub struct WorkerTally {
    pub batches: usize,
    pub documents: usize,
    pub added: usize,
    pub already_stored: usize,
    /// Messages that were no document (terminated, never redelivered).
    pub unreadable: usize,
    /// Batches the pipeline failed on (not acknowledged: delivered again).
    pub failed: usize,
    /// Seconds in each stage of this worker's batches (extraction with storing, copies, facts).
    pub seconds: std::collections::BTreeMap<storyline_pipeline::Stage, f64>,
    /// Seconds in the steps after storing (the sweeps and the story step), waits for their
    /// locks included, and how many times they ran.
    pub assign_seconds: f64,
    pub assigned: usize,
}

/// When a worker stops by itself.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// Never (until killed).
    Forever,
    /// After the queue gave it nothing for this long.
    Idle(Duration),
}

/// What a worker says as it goes: a batch done (with its summary), or a problem it goes on
/// after.
pub enum Report<'a> {
    Batch(&'a IngestSummary),
    Problem(String),
}

/// Consumes the stream into `store` until `until`; `report` hears about each batch.
pub fn work(
    store: &dyn Store,
    pipeline: &Pipeline,
    config: &QueueConfig,
    until: Until,
    report: &mut dyn FnMut(&WorkerTally, Report),
) -> Result<WorkerTally, Error> {
    let runtime = runtime()?;
    let (client, _context, stream) = runtime.block_on(connect(config))?;
    let consumer: jetstream::consumer::PullConsumer = runtime
        .block_on(stream.get_or_create_consumer(
            &config.consumer,
            pull::Config { durable_name: Some(config.consumer.clone()), ack_policy: AckPolicy::Explicit, ack_wait: config.ack_wait, ..Default::default() },
        ))
        .map_err(|e| Error::Stream { url: config.url.clone(), message: format!("consumer {}: {e}", config.consumer) })?;
    // JSON escapes can double a text; the rest is the document's hints.
    let max_json = pipeline.config.read.max_document_bytes as u64 * 2 + (1 << 20);
    let mut tally = WorkerTally::default();
    let mut idle_since = Instant::now();
    let mut swept = false;
    let mut last_assigned = Instant::now();
    // The steps after storing, for everything stored and not yet done (this worker's, any
    // other's): the copy and facts sweeps and the story step, each under its store lock.
    let assign = |tally: &WorkerTally, report: &mut dyn FnMut(&WorkerTally, Report)| -> bool {
        let idle = || -> Result<bool, storyline_store::Error> {
            Ok(store.articles_needing_copy_check(1)?.is_empty() && store.articles_needing_story(1)?.is_empty() && store.articles_needing_facts(1)?.is_empty())
        };
        if idle().unwrap_or(false) {
            return true;
        }
        let mut summary = IngestSummary::default();
        match pipeline.derive(store, &mut summary) {
            Ok(()) => true,
            Err(e) => {
                report(tally, Report::Problem(format!("assigning stories: {e}; trying again later")));
                false
            }
        }
    };
    loop {
        let fetched = runtime.block_on(async {
            let mut batch = consumer.fetch().max_messages(config.batch).expires(Duration::from_secs(1)).messages().await.map_err(|e| e.to_string())?;
            let mut messages = Vec::new();
            while let Some(m) = batch.next().await {
                messages.push(m.map_err(|e| e.to_string())?);
            }
            Ok::<_, String>(messages)
        });
        let messages = match fetched {
            Ok(m) => m,
            Err(e) => {
                report(&tally, Report::Problem(format!("fetching from the queue at {}: {e}; trying again", config.url)));
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        if messages.is_empty() {
            // Work a process left between storing and its later steps (once per quiet spell).
            if !swept {
                let started = Instant::now();
                swept = assign(&tally, report);
                tally.assign_seconds += started.elapsed().as_secs_f64();
                last_assigned = Instant::now();
            }
            if let Until::Idle(quiet) = until {
                if idle_since.elapsed() >= quiet {
                    return Ok(tally);
                }
            }
            continue;
        }
        swept = false;
        let mut docs = Vec::with_capacity(messages.len());
        let mut readable = Vec::with_capacity(messages.len());
        for m in messages {
            match decode(&m.payload, max_json) {
                Ok(doc) => {
                    docs.push(doc);
                    readable.push(m);
                }
                Err(e) => {
                    let seq = m.info().map(|i| i.stream_sequence).unwrap_or_default();
                    tally.unreadable += 1;
                    report(&tally, Report::Problem(format!("message {seq} of stream {}: {e}; dropped", config.stream)));
                    let _ = runtime.block_on(m.ack_with(AckKind::Term));
                }
            }
        }
        let readable = Arc::new(readable);
        let beat = runtime.spawn(still_working(readable.clone(), config.ack_wait / 3));
        let documents = docs.len();
        let result = pipeline.ingest_documents(store, docs);
        beat.abort();
        match result {
            Ok(summary) => {
                // Stored, with copies and facts: now the messages may go.
                runtime.block_on(async {
                    for m in readable.iter() {
                        let _ = m.ack().await;
                    }
                    let _ = client.flush().await;
                });
                tally.batches += 1;
                tally.documents += documents;
                tally.added += summary.added;
                tally.already_stored += summary.already_stored;
                for (stage, secs) in &summary.seconds {
                    *tally.seconds.entry(*stage).or_default() += secs;
                }
                report(&tally, Report::Batch(&summary));
            }
            Err(e) => {
                tally.failed += 1;
                report(&tally, Report::Problem(format!("a batch of {documents} documents was not stored ({e}); it will be delivered again")));
                runtime.block_on(async {
                    for m in readable.iter() {
                        let _ = m.ack_with(AckKind::Nak(Some(Duration::from_secs(2)))).await;
                    }
                });
                std::thread::sleep(Duration::from_secs(2));
            }
        }
        idle_since = Instant::now();
        // Stories: at once when nothing is left to deliver or being worked on, else once the
        // wait is over.
        let drained = runtime.block_on(consumer.get_info()).is_ok_and(|i| i.num_pending == 0 && i.num_ack_pending == 0);
        if drained || last_assigned.elapsed() >= config.assign_after {
            let started = Instant::now();
            if assign(&tally, report) {
                tally.assigned += 1;
            }
            tally.assign_seconds += started.elapsed().as_secs_f64();
            last_assigned = Instant::now();
        }
    }
}

/// Tells JetStream every `every` that the batch is still being worked on.
async fn still_working(messages: Arc<Vec<jetstream::Message>>, every: Duration) {
    let every = every.max(Duration::from_millis(200));
    loop {
        tokio::time::sleep(every).await;
        for m in messages.iter() {
            let _ = m.ack_with(AckKind::Progress).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use storyline_model::{Body, Hints, InputFormat};

    #[test]
    fn a_document_survives_the_payload_and_a_bad_payload_is_named() {
        let doc = RawDocument {
            source: "feed.xml#3".into(),
            format: InputFormat::Feed,
            body: Body::Html("<p>caf\u{e9} \"quoted\"</p>".into()),
            hints: Hints { url: Some("https://example.org/a".into()), authors: vec!["A. Writer".into()], ..Hints::default() },
            warnings: vec!["charset guessed".into()],
        };
        let payload = encode(&doc);
        assert_eq!(decode(&payload, 1 << 20).unwrap(), doc);
        assert!(decode(b"not zlib", 1 << 20).unwrap_err().contains("zlib"));
        assert!(decode(&payload, 10).unwrap_err().contains("more than 10 bytes"));
        let other = encode(&RawDocument { body: Body::Text("x".into()), ..doc.clone() });
        assert_ne!(payload, other);
    }
}

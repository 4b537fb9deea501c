//! A real DNS server on a loopback UDP port for the tests: it answers TXT queries from the
//! records the test sets (each record one or more strings, as a zone may split them), and
//! SERVFAIL while `failing` is set.

use hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::TXT;
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct Zone {
    records: Arc<Mutex<HashMap<String, Vec<Vec<String>>>>>,
    pub failing: Arc<AtomicBool>,
    /// Queries answered.
    pub queries: Arc<AtomicUsize>,
}

impl Zone {
    /// Replaces the TXT records at `name` (each record given as its strings).
    pub fn set(&self, name: &str, records: &[&[&str]]) {
        let records = records
            .iter()
            .map(|r| r.iter().map(|s| (*s).to_owned()).collect())
            .collect();
        self.records
            .lock()
            .unwrap()
            .insert(name.trim_end_matches('.').to_lowercase(), records);
    }

    pub fn clear(&self, name: &str) {
        self.records
            .lock()
            .unwrap()
            .remove(&name.trim_end_matches('.').to_lowercase());
    }

    fn answer(&self, request: &[u8]) -> Option<Vec<u8>> {
        let request = Message::from_vec(request).ok()?;
        self.queries.fetch_add(1, Ordering::SeqCst);
        let mut response = Message::response(request.metadata.id, OpCode::Query);
        response.metadata.message_type = MessageType::Response;
        response.metadata.authoritative = true;
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        response.metadata.recursion_available = true;
        let query = request.queries.first()?.clone();
        response.add_query(query.clone());
        if self.failing.load(Ordering::SeqCst) {
            response.metadata.response_code = ResponseCode::ServFail;
            return response.to_vec().ok();
        }
        let name = query.name().to_ascii().trim_end_matches('.').to_lowercase();
        let records = self.records.lock().unwrap().get(&name).cloned();
        match records {
            Some(records) if query.query_type() == RecordType::TXT => {
                for strings in records {
                    response.add_answer(Record::from_rdata(
                        query.name().clone(),
                        60,
                        RData::TXT(TXT::new(strings)),
                    ));
                }
            }
            Some(_) => {}
            None => response.metadata.response_code = ResponseCode::NXDomain,
        }
        response.to_vec().ok()
    }

    /// Serves the zone on a loopback port until the test's runtime ends.
    pub async fn serve(&self) -> SocketAddr {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let zone = self.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                if let Some(answer) = zone.answer(&buf[..n]) {
                    let _ = socket.send_to(&answer, from).await;
                }
            }
        });
        addr
    }
}

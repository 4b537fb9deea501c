// A DNS server for the browser journeys: answers TXT queries over UDP on 127.0.0.1:<dns port>
// from records the journeys set over HTTP on 127.0.0.1:<control port>
// (PUT /records/<name> with a JSON array of records, each an array of strings; DELETE to
// remove). Unknown names get NXDOMAIN. Plain Node, no packages.
import dgram from "node:dgram";
import http from "node:http";

const [dnsPort, controlPort] = process.argv.slice(2).map(Number);
const records = new Map();

function readName(msg, offset) {
  const labels = [];
  for (;;) {
    const len = msg[offset];
    if (len === undefined) throw new Error("short");
    if (len === 0) return [labels.join(".").toLowerCase(), offset + 1];
    if (len >= 0xc0) throw new Error("no compression in questions");
    labels.push(msg.subarray(offset + 1, offset + 1 + len).toString("latin1"));
    offset += 1 + len;
  }
}

function answer(msg) {
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  const [name, end] = readName(msg, 12);
  const qtype = msg.readUInt16BE(end);
  const question = msg.subarray(12, end + 4);
  const found = records.get(name);
  const txt = found && qtype === 16 ? found : [];
  const rcode = found ? 0 : 3;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x8400 | (flags & 0x0100) | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(txt.length, 6);
  const answers = txt.map((strings) => {
    const data = Buffer.concat(strings.map((s) => {
      const bytes = Buffer.from(s, "utf8");
      return Buffer.concat([Buffer.from([bytes.length]), bytes]);
    }));
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the question's name
    rr.writeUInt16BE(16, 2); // TXT
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(data.length, 10);
    return Buffer.concat([rr, data]);
  });
  return Buffer.concat([header, question, ...answers]);
}

const udp = dgram.createSocket("udp4");
udp.on("message", (msg, from) => {
  try {
    udp.send(answer(msg), from.port, from.address);
  } catch {
    // A malformed query gets no answer.
  }
});
udp.bind(dnsPort, "127.0.0.1");

http
  .createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? "").replace(/^\/records\//, "")).toLowerCase().replace(/\.$/, "");
    if (req.method === "DELETE") {
      records.delete(name);
      res.writeHead(204).end();
      return;
    }
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      records.set(name, JSON.parse(body));
      res.writeHead(204).end();
    });
  })
  .listen(controlPort, "127.0.0.1");

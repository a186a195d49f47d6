// An Appwrite webhook receiver written the way common Node snippets are: it verifies
// JSON.stringify(JSON.parse(body)) — what `express.json()` leaves a handler — compares with
// ===, and reads bodies of any size. `conformance` must fail it, naming those checks.
//
//     KEY=... URL=... PORT=... node naive_node.js
const http = require("http");
const crypto = require("crypto");

const { KEY, URL, PORT } = process.env;

http
  .createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      let payload;
      try {
        payload = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        res.writeHead(400).end("bad json");
        return;
      }
      const expected = crypto
        .createHmac("sha1", KEY)
        .update(URL + JSON.stringify(payload))
        .digest("base64");
      if (req.headers["x-appwrite-webhook-signature"] !== expected) {
        res.writeHead(401).end("invalid signature");
        return;
      }
      res.writeHead(200).end("ok");
    });
  })
  // PORT=0 lets the system pick; the tests read where from this line.
  .listen(Number(PORT), "127.0.0.1", function () {
    console.error(`listening on http://127.0.0.1:${this.address().port}`);
  });

// An independent SMSC for tests: the npm `smpp` 0.5.1 server. Usage: node server.js PORT.
// Accepts binds from system_id "esme" with password "secret" and refuses any other with ESME_RBINDFAIL;
// accepts submit_sm with a message id. Prints READY, then BOUND/REFUSED/SUBMIT lines on stdout.
"use strict";
const smpp = require("smpp");

const port = Number(process.argv[2]);
let accepted = 0;

const server = smpp.createServer((session) => {
  const bind = (pdu) => {
    session.pause();
    if (pdu.system_id === "esme" && pdu.password === "secret") {
      session.send(pdu.response());
      session.resume();
      console.log(`BOUND ${pdu.system_id}`);
    } else {
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      console.log(`REFUSED ${pdu.system_id}`);
      session.close();
    }
  };
  session.on("bind_transceiver", bind);
  session.on("bind_transmitter", bind);
  session.on("bind_receiver", bind);
  session.on("submit_sm", (pdu) => {
    accepted += 1;
    session.send(pdu.response({ message_id: `npm-${accepted}` }));
    console.log(`SUBMIT ${pdu.destination_addr}`);
  });
  session.on("enquire_link", (pdu) => session.send(pdu.response()));
  session.on("unbind", (pdu) => {
    session.send(pdu.response());
    session.close();
  });
  session.on("error", () => {});
});

server.listen(port, "127.0.0.1", () => console.log("READY"));
setTimeout(() => process.exit(0), 60000).unref();

// A Server-Sent Events parser (the WHATWG rules that matter here), for /v1/live read with fetch so
// that an API key can travel in a header. Loaded after common.js: sqm.sseParser(onEvent) returns a
// function to feed decoded text chunks; onEvent(type, data) runs once per complete event.
"use strict";

window.sqm.sseParser = function sseParser(onEvent) {
  let buf = "", type = "message", data = [];
  return (chunk) => {
    buf += chunk;
    for (;;) {
      const i = buf.search(/[\r\n]/);
      if (i < 0 || (buf[i] === "\r" && i === buf.length - 1)) return; // wait for the rest of the line
      const line = buf.slice(0, i);
      buf = buf.slice(buf[i] === "\r" && buf[i + 1] === "\n" ? i + 2 : i + 1);
      if (line === "") {
        if (data.length) onEvent(type, data.join("\n"));
        type = "message";
        data = [];
      } else if (line[0] !== ":") {
        const c = line.indexOf(":");
        const field = c < 0 ? line : line.slice(0, c);
        let value = c < 0 ? "" : line.slice(c + 1);
        if (value[0] === " ") value = value.slice(1);
        if (field === "event") type = value;
        else if (field === "data") data.push(value);
      }
    }
  };
};

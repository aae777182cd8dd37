// Read a Vercel AI SDK UI message stream with the `ai` package's own readers and print
// what they reconstructed.
//
//   node vercel-client.mjs URL [BODY_JSON]
//
// POSTs BODY_JSON, then parses the SSE body exactly as `ai`'s DefaultChatTransport does
// (`parseJsonEventStream` + `uiMessageChunkSchema`) and folds the chunks into UIMessages
// with `readUIMessageStream`. A tee of the body goes through the same SSE parser `ai`
// uses (eventsource-parser) only to see the `[DONE]` terminator, which `ai` drops.
//
// Prints ONE JSON object on stdout (see README.md). Exit code 0 whenever the request
// could be attempted -- failures are reported in "client_error"; 2 on bad arguments.

import {
  parseJsonEventStream,
  readUIMessageStream,
  UI_MESSAGE_STREAM_HEADERS,
  uiMessageChunkSchema,
} from "ai";
import { EventSourceParserStream } from "eventsource-parser/stream";

const HEADER = "x-vercel-ai-ui-message-stream";

const [url, bodyJson] = process.argv.slice(2);
if (!url) {
  process.stderr.write("usage: node vercel-client.mjs URL [BODY_JSON]\n");
  process.exit(2);
}
const body = bodyJson ? JSON.parse(bodyJson) : {};

const output = {
  chunks: [],
  messages: [],
  error: null,
  done: false,
  header: null,
  header_ok: false,
  after_done: 0,
  invalid: [],
  client_errors: [],
  client_error: null,
  status: null,
  content_type: null,
};
const message = (e) => (e instanceof Error ? e.message : String(e));

async function run() {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify(body),
  });
  output.status = response.status;
  output.header = response.headers.get(HEADER);
  output.header_ok = output.header === UI_MESSAGE_STREAM_HEADERS[HEADER];
  output.content_type = response.headers.get("content-type");
  if (!response.ok || !response.body) {
    output.client_error = `HTTP ${response.status}: ${await response.text()}`;
    return;
  }
  const [forChunks, forDone] = response.body.tee();

  const watchDone = (async () => {
    const events = forDone.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
    for await (const { data } of events) {
      if (output.done) output.after_done += 1;
      else if (data === "[DONE]") output.done = true;
    }
  })();

  const chunks = parseJsonEventStream({ stream: forChunks, schema: uiMessageChunkSchema }).pipeThrough(
    new TransformStream({
      transform(result, controller) {
        if (result.success) {
          output.chunks.push(result.value.type);
          controller.enqueue(result.value);
        } else {
          // DefaultChatTransport would fail the whole stream here; keep reading instead
          // and report the chunk.
          output.invalid.push({
            raw: result.rawValue ?? null,
            error: message(result.error).split("\n")[0],
          });
        }
      },
    }),
  );

  const byId = new Map(); // message id -> its latest snapshot, in order of appearance
  const stream = readUIMessageStream({
    stream: chunks,
    onError: (error) => {
      // An `error` chunk reaches onError as a plain Error carrying its errorText; any
      // other error is the reader rejecting the stream (e.g. an unknown toolCallId).
      if (Object.getPrototypeOf(error) === Error.prototype) {
        output.error ??= error.message;
      } else {
        output.client_errors.push(`${error?.name ?? "Error"}: ${message(error)}`);
      }
    },
  });
  for await (const snapshot of stream) byId.set(snapshot.id, snapshot);
  output.messages = [...byId.values()];
  await watchDone;
}

try {
  await run();
} catch (error) {
  output.client_error = message(error);
}
process.stdout.write(`${JSON.stringify(output)}\n`);

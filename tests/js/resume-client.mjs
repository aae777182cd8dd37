// Resume a durable protocol run with the protocol's own client, and print what it rebuilt.
//
//   node resume-client.mjs usechat URL BODY_JSON CUT_CHARS
//   node resume-client.mjs agui URL INPUT_JSON CUT_EVENTS
//
// usechat: the `ai` package's chat (AbstractChat + DefaultChatTransport, what React's
//   useChat runs) sends BODY_JSON's user message to URL; once the assistant's text has
//   CUT_CHARS characters the page "reloads": its request is aborted and the chat dropped.
//   A second chat with the same id and the persisted user message then calls
//   resumeStream(), as useChat({ resume: true }) does on mount: a GET to
//   `${URL}/${id}/stream`. When it is done, resumeStream() once more, which must find
//   nothing running (204). Prints the second chat's messages, status and error, and
//   every request made (method, url, status).
//
// agui: @ag-ui/client's HttpAgent runs INPUT_JSON at URL through a fetch that loses the
//   connection after CUT_EVENTS SSE events and picks the run up again at
//   `GET /runs/{X-Run-Id}/stream` with `Last-Event-ID` (the last `id:` it saw), handing
//   the agent one body: what it rebuilds must be the whole run.
//
// Prints ONE JSON object on stdout. Exit code 0 whenever the run could be attempted;
// failures are in "client_error"; 2 on bad arguments.

import { HttpAgent } from "@ag-ui/client";
import { AbstractChat, DefaultChatTransport } from "ai";

const [mode, url, bodyJson, cutText] = process.argv.slice(2);
if (!["usechat", "agui"].includes(mode) || !url || !bodyJson || !cutText) {
  process.stderr.write("usage: node resume-client.mjs usechat|agui URL BODY_JSON CUT\n");
  process.exit(2);
}
const body = JSON.parse(bodyJson);
const cut = Number(cutText);
const message = (e) => (e instanceof Error ? e.message : String(e));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const warnings = [];
for (const level of ["warn", "error"]) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    warnings.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(" "));
    original(...args);
  };
}

// --- useChat -------------------------------------------------------------------------

// The chat's state, as @ai-sdk/react keeps it, without React.
class State {
  constructor(messages) {
    this.status = "ready";
    this.error = undefined;
    this.messages = messages;
  }
  pushMessage(m) {
    this.messages = this.messages.concat(m);
  }
  popMessage() {
    this.messages = this.messages.slice(0, -1);
  }
  replaceMessage(i, m) {
    this.messages = [...this.messages.slice(0, i), this.snapshot(m), ...this.messages.slice(i + 1)];
  }
  snapshot(thing) {
    return structuredClone(thing);
  }
}

class NodeChat extends AbstractChat {
  constructor({ messages = [], ...init }) {
    super({ ...init, state: new State(messages) });
  }
  get messages() {
    return this.state.messages;
  }
}

const assistantText = (messages) =>
  messages
    .filter((m) => m.role === "assistant")
    .flatMap((m) => m.parts)
    .filter((p) => p.type === "text")
    .map((p) => p.text)
    .join("");

async function useChat() {
  const requests = [];
  const unload = new AbortController(); // the first page going away
  const recording =
    (signal) =>
    async (target, init = {}) => {
      const signals = [init.signal, signal].filter(Boolean);
      const response = await fetch(target, { ...init, signal: AbortSignal.any(signals) });
      requests.push({ method: init.method ?? "GET", url: String(target), status: response.status });
      return response;
    };
  const first = new NodeChat({
    id: body.id,
    transport: new DefaultChatTransport({ api: url, fetch: recording(unload.signal) }),
  });
  const text = body.messages.at(-1).parts.find((p) => p.type === "text").text;
  const sending = first.sendMessage({ text }).catch(() => {});
  const deadline = Date.now() + 30_000;
  while (assistantText(first.messages).length < cut) {
    if (Date.now() > deadline) throw new Error("the first chat never streamed");
    await sleep(5);
  }
  const seenBeforeReload = assistantText(first.messages).length;
  unload.abort(); // the reload: the request is gone, the server's run is not
  await sending;
  const persisted = first.messages.filter((m) => m.role === "user");

  const second = new NodeChat({
    id: body.id,
    messages: structuredClone(persisted),
    transport: new DefaultChatTransport({ api: url, fetch: recording(undefined) }),
  });
  await second.resumeStream(); // what useChat({ resume: true }) does on mount
  const resumed = { messages: second.messages, status: second.status, error: second.error };
  await second.resumeStream(); // nothing runs any more: 204, nothing changes
  return {
    seen_before_reload: seenBeforeReload,
    resumed: { ...resumed, error: resumed.error ? message(resumed.error) : null },
    after: {
      messages: second.messages,
      status: second.status,
      error: second.error ? message(second.error) : null,
    },
    requests,
  };
}

// --- AG-UI ---------------------------------------------------------------------------

async function agui() {
  const requests = [];
  let lastId = null;
  // A fetch whose connection drops after `cut` events and resumes from the last id.
  const resuming = async (target, init) => {
    const response = await fetch(target, init);
    requests.push({ method: init?.method ?? "GET", url: String(target), status: response.status });
    const runId = response.headers.get("x-run-id");
    const base = new URL(String(target)).origin;
    const decoder = new TextDecoder();
    const encoder = new TextEncoder();
    const reader = response.body.getReader();
    const stream = new ReadableStream({
      async start(controller) {
        let buffered = "";
        let events = 0;
        while (events < cut) {
          const { value, done } = await reader.read();
          if (done) break;
          buffered += decoder.decode(value, { stream: true });
          let end;
          while (events < cut && (end = buffered.indexOf("\n\n")) !== -1) {
            const frame = buffered.slice(0, end + 2);
            buffered = buffered.slice(end + 2);
            const id = frame.split("\n").find((line) => line.startsWith("id: "));
            if (id) lastId = id.slice(4);
            controller.enqueue(encoder.encode(frame));
            events += 1;
          }
        }
        await reader.cancel(); // the connection is lost; what was half-read is gone
        const join = `${base}/runs/${runId}/stream`;
        const rest = await fetch(join, { headers: { "last-event-id": lastId } });
        requests.push({ method: "GET", url: join, status: rest.status, last_event_id: lastId });
        const restReader = rest.body.getReader();
        for (;;) {
          const { value, done } = await restReader.read();
          if (done) break;
          controller.enqueue(value);
        }
        controller.close();
      },
    });
    return new Response(stream, { status: response.status, headers: response.headers });
  };
  const events = [];
  const agent = new HttpAgent({
    url,
    threadId: body.threadId,
    initialMessages: body.messages ?? [],
    fetch: resuming,
  });
  await agent.runAgent({ runId: body.runId }, { onEvent: ({ event }) => events.push(event.type) });
  return { events, messages: agent.messages, requests };
}

let output;
try {
  output = mode === "usechat" ? await useChat() : await agui();
  output.client_error = null;
} catch (error) {
  output = { client_error: message(error) };
}
output.warnings = warnings;
process.stdout.write(`${JSON.stringify(output)}\n`);

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { Memory } from "../src/backends/memory.js";
import { Mem0ConfigError } from "../src/errors.js";
import { BUILT_IN_DETECTORS, Redactor } from "../src/redaction.js";
import { FakeOpenAIServer, parseExtractionInput } from "../src/testing/index.js";

const redact = (text: string) => new Redactor(true).text(text);

describe("built-in detectors on realistic text", () => {
  it.each([
    [
      "Sure, my email is jane.doe+news@example.co.uk, and work is j.smith@müller-gmbh.de.",
      "Sure, my email is [EMAIL], and work is [EMAIL].",
    ],
    [
      "Call me on +49 30 1234567 or +1 (555) 123-4567; the office is +44 (0)20 7946 0958.",
      "Call me on [PHONE] or [PHONE]; the office is [PHONE].",
    ],
    [
      "US: 555-123-4567, (555) 123-4567, 1-800-555-0199. Dial 0044 20 7946 0958 from Germany.",
      "US: [PHONE], [PHONE], [PHONE]. Dial [PHONE] from Germany.",
    ],
    [
      "Berlin 030 1234567, mobile 0171-1234567, Paris 06 12 34 56 78 or 06.12.34.56.78.",
      "Berlin [PHONE], mobile [PHONE], Paris [PHONE] or [PHONE].",
    ],
    [
      "My number is 07700900123, text me at 5551234567.",
      "My number is [PHONE], text me at [PHONE].",
    ],
    [
      "Visa 4111 1111 1111 1111, MC 5555-5555-5555-4444, Amex 378282246310005, exp 12/27.",
      "Visa [CARD], MC [CARD], Amex [CARD], exp 12/27.",
    ],
    [
      "Pay to DE89 3704 0044 0532 0130 00 or GB82WEST12345698765432, or be68 5390 0754 7034 please.",
      "Pay to [IBAN] or [IBAN], or [IBAN] please.",
    ],
    [
      "The NAS is at 192.168.1.20, the VPN at 2001:db8::8a2e:370:7334 and fe80::1%eth0.",
      "The NAS is at [IP], the VPN at [IP] and [IP].",
    ],
    [
      "Use OPENAI_API_KEY=sk-proj-Abc123def456GHI789jkl012 and ghp_16C7e42F292c6912E7710c838347Ae178B4a.",
      "Use OPENAI_API_KEY=[SECRET] and [SECRET].",
    ],
    [
      "AWS AKIAIOSFODNN7EXAMPLE, Slack xoxb-1234567890-abcdefghijkl, Stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc.",
      "AWS [SECRET], Slack [SECRET], Stripe [SECRET].",
    ],
    [
      "Header: Authorization: Bearer 9f8e7d6c5b4a3f2e1d0c9b8a and jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
      "Header: Authorization: Bearer [SECRET] and jwt [SECRET]",
    ],
    [
      'config: client_secret: "x9Kq2Lm8Pz4Rt7Vw", token key_4f8a9C2e7b1D6f3a0e5c, my password is hunter2.',
      'config: client_secret: "[SECRET]", token [SECRET], my password is [SECRET].',
    ],
    [
      "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nAbCd\n-----END RSA PRIVATE KEY----- is my deploy key",
      "[SECRET] is my deploy key",
    ],
  ])("%s", (input, expected) => {
    expect(redact(input)).toBe(expected);
  });

  it("keeps facts useful: the placeholder takes the place of the value only", () => {
    expect(redact("User's email is anna@example.org and her phone is +33 6 12 34 56 78")).toBe(
      "User's email is [EMAIL] and her phone is [PHONE]",
    );
  });
});

describe("false positives", () => {
  it.each([
    "Meeting on 2024-01-15 at 10:30:45, or 15.01.2024, or 01/15/2024 at 9:30.",
    "Deployed 2024-01-15T10:30:00Z (epoch 1700000000, ms 1700000000000), took 10:30:00.123.",
    "Order #100234567 and order 4500012345, ticket 2024-000123, invoice INV-2024-0042.",
    "Upgrade from v2.10.4 to 3.0.0-beta.1; version 1.2.3.4 and build 10.0.19041.1 too.",
    "It costs $1,234.56, or 1.234,56 €, or £12,000, or 99.99$; total 12 345 678 units.",
    "ISBN 978-3-16-148410-0, ISBN 0-306-40615-2, 9780306406157 and 0306406152.",
    "Request 550e8400-e29b-41d4-a716-446655440000 and f47ac10b-0058-4372-a567-0e02b2c3d479.",
    "Not cards: 4111 1111 1111 1112, 1234 5678 9012 3456, 4000000000000001.",
    "Invalid IBANs: DE89 3704 0044 0532 0130 01 and GB82WEST12345698765433.",
    "MAC 00:1A:2B:3C:4D:5E, std::vector, a::b, the score was 3-1 at 12:30.",
    "Born 1985, room 1204, code 0042, zip 90210, flight LH 400, +3 points, call me at 10.",
    "The secret ingredient is love; token count 4096; service api-gateway-service-v2-prod.",
    "Follow @jane on Twitter; user@localhost is not an address.",
  ])("%s", (text) => {
    expect(redact(text)).toBe(text);
  });
});

describe("Redactor options", () => {
  const text = "Mail bob@example.com, call +49 30 1234567, card 4111 1111 1111 1111, EMP-00421.";

  it("is off by default and with false", () => {
    expect(new Redactor().enabled).toBe(false);
    expect(new Redactor(false).text(text)).toBe(text);
    expect(new Redactor({ detectors: [] }).enabled).toBe(false);
  });

  it("runs only the chosen detectors", () => {
    expect(new Redactor({ detectors: ["email", "card"] }).text(text)).toBe(
      "Mail [EMAIL], call +49 30 1234567, card [CARD], EMP-00421.",
    );
  });

  it("applies custom patterns and functions with their own labels", () => {
    const redactor = new Redactor({
      detectors: ["email"],
      custom: [
        { label: "EMPLOYEE_ID", pattern: /EMP-\d+/ },
        (input) => input.replace(/\bbob\b/gi, "[NAME]"),
      ],
    });
    expect(redactor.text(`${text} EMP-7 and Bob`)).toBe(
      "Mail [EMAIL], call +49 30 1234567, card 4111 1111 1111 1111, [EMPLOYEE_ID]. [EMPLOYEE_ID] and [NAME]",
    );
  });

  it("resolves overlaps: first start, then longest, then detector order", () => {
    // The address's digits would also pass for a phone number; the e-mail starts first.
    expect(redact("write to 004930123456789@example.com")).toBe("write to [EMAIL]");
    // A phone number inside an invalid IBAN is no phone number.
    expect(redact("DE00 0049 3012 3456 78")).toBe("DE00 0049 3012 3456 78");
    // A secret key's value is a secret even when it looks like a UUID.
    expect(redact("token: 550e8400-e29b-41d4-a716-446655440000")).toBe("token: [SECRET]");
  });

  it("redacts messages and, only when asked, metadata strings at any depth", () => {
    const messages = [
      { role: "user" as const, content: "I'm at ann@example.org" },
      { role: "assistant" as const, content: "Noted." },
    ];
    const redactor = new Redactor(true);
    expect(redactor.messages(messages)).toEqual([
      { role: "user", content: "I'm at [EMAIL]" },
      { role: "assistant", content: "Noted." },
    ]);
    expect(messages[0].content).toBe("I'm at ann@example.org");
    const metadata = { source: "ann@example.org", tags: ["x", { ip: "10.0.0.1" }], count: 3 };
    expect(redactor.metadata(metadata)).toBe(metadata);
    expect(new Redactor({ metadata: true }).metadata(metadata)).toEqual({
      source: "[EMAIL]",
      tags: ["x", { ip: "[IP]" }],
      count: 3,
    });
  });

  it("rejects bad options with a message naming the fix", () => {
    expect(() => new Redactor({ detectors: ["ssn" as never] })).toThrow(Mem0ConfigError);
    expect(() => new Redactor({ detectors: ["ssn" as never] })).toThrow(
      new RegExp(BUILT_IN_DETECTORS.map((name) => `"${name}"`).join(", ")),
    );
    expect(() => new Redactor({ custom: [{ label: "a b]", pattern: /x/ }] })).toThrow(
      /custom\[0\]\.label/,
    );
    expect(() => new Redactor({ custom: [{ label: "X" } as never] })).toThrow(/RegExp/);
    expect(() => new Redactor("yes" as never)).toThrow(/redact must be true, false/);
    expect(() => new Redactor({ detectors: "email" as never })).toThrow(/must be an array/);
    const broken = new Redactor({ detectors: [], custom: [() => undefined as never] });
    expect(() => broken.text("hi")).toThrow(/custom\[0\] must return a string/);
  });
});

describe("Memory with redact", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  beforeAll(async () => {
    server = await FakeOpenAIServer.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mem0-redact-"));
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("redacts before the extraction LLM, the store, the message log and the outbox", async () => {
    const file = path.join(dir, "redacted.db");
    const configuration = { baseURL: server.baseURL };
    const memory = new Memory({
      llm: new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", configuration }),
      embeddings: new OpenAIEmbeddings({ apiKey: "test", configuration }),
      path: file,
      redact: { metadata: true },
      recoverOnOpen: false,
    });
    server.enqueue({ json: { add: ["User's email is [EMAIL]"], update: [], delete: [] } });
    await memory.add("My email is ann@example.org and my card is 4111 1111 1111 1111", {
      userId: "ann",
      metadata: { from: "ann@example.org" },
    });
    const input = parseExtractionInput(server.chatRequests[0].lastUserText);
    expect(input.conversation[0].content).toBe("My email is [EMAIL] and my card is [CARD]");
    await memory.add("call me at +49 30 1234567", { userId: "ann", infer: false });
    await memory.enqueue("my IBAN is DE89 3704 0044 0532 0130 00", { userId: "ann" });
    const all = (await memory.getAll({ userId: "ann" })).results;
    expect(all.map((m) => m.memory)).toEqual(["User's email is [EMAIL]", "call me at [PHONE]"]);
    expect(all[0].metadata).toEqual({ from: "[EMAIL]" });
    await memory.update(all[0].id, "email ann@example.org");
    expect((await memory.get(all[0].id))?.memory).toBe("email [EMAIL]");
    await memory.close();
    const files = [file, `${file}-wal`].filter((f) => fs.existsSync(f));
    const bytes = files.map((f) => fs.readFileSync(f).toString("latin1")).join("");
    for (const secret of ["ann@example.org", "4111 1111", "1234567", "DE89"]) {
      expect(bytes).not.toContain(secret);
    }
    expect(JSON.stringify(server.chatRequests)).not.toContain("ann@example.org");
  });
});

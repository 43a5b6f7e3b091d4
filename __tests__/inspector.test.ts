import { existsSync } from "node:fs";
import { ChatOpenAI } from "@langchain/openai";
import { chromium, type Browser, type Page } from "playwright-core";
import { Memory } from "../src/backends/memory.js";
import { HashEmbeddings } from "../src/embeddings/hash.js";
import { Mem0 } from "../src/facade/mem0.js";
import { startMem0Server, type Mem0Server } from "../src/server/serve.js";
import { FakeOpenAIServer } from "../src/testing/index.js";

// The inspector page in a real browser: Debian's chromium driven by playwright-core.
// `.ci/run` installs chromium; without it this file skips and says so.

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(
    `inspector browser tests skipped: ${CHROMIUM} is absent (apt-get install -y chromium).`,
  );
}
const describeInBrowser = hasChromium ? describe : describe.skip;

const extraction = (add: string[], relations: object[], invalidate: number[] = []) => ({
  json: {
    add,
    update: [],
    delete: [],
    relations,
    aliases: [],
    invalidate: invalidate.map((id) => ({ id })),
  },
});

describeInBrowser("inspector page in Chromium", () => {
  let provider: FakeOpenAIServer;
  let memory: Memory;
  let server: Mem0Server;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    provider = await FakeOpenAIServer.start();
    memory = new Memory({
      llm: new ChatOpenAI({ apiKey: "offline", configuration: { baseURL: provider.baseURL } }),
      embeddings: new HashEmbeddings(),
      path: ":memory:",
      graph: true,
    });
    const alice = { userId: "alice" };
    provider.enqueue(
      extraction(
        ["User lives in Paris", "User works at Acme"],
        [
          { source: "user", relation: "lives_in", destination: "paris" },
          { source: "user", relation: "works_at", destination: "acme" },
        ],
      ),
    );
    await memory.add("I live in Paris and work at Acme", alice);
    provider.enqueue(
      extraction(
        ["User moved to Berlin"],
        [{ source: "user", relation: "lives_in", destination: "berlin" }],
        [0],
      ),
    );
    await memory.add("I moved from Paris to Berlin", alice);
    await memory.add("Bob's secret", { userId: "bob", infer: false });
    // A write committed to the outbox and not applied yet.
    await memory.enqueue("I have a cat", alice);

    server = await startMem0Server({ mem0: new Mem0({ memory }), port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--headless",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
      ],
    });
    page = await browser.newPage();
    page.setDefaultTimeout(5_000);
    await page.goto(`${server.url}/#user_id=alice`);
    await page.getByText(/memories of user alice/).waitFor();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await memory?.close();
    await provider?.close();
  });

  const texts = () => page.getByTestId("memory-text").allTextContents();

  test("lists the scope's memories and searches them", async () => {
    expect((await texts()).sort()).toEqual([
      "User lives in Paris",
      "User moved to Berlin",
      "User works at Acme",
    ]);
    await page.keyboard.press("/");
    await page.keyboard.type("Berlin");
    await page.keyboard.press("Enter");
    await page.getByText(/match “Berlin”/).waitFor();
    expect((await texts())[0]).toBe("User moved to Berlin");
    expect(await texts()).not.toContain("Bob's secret");
  });

  test("edits a memory with the keyboard and shows its history", async () => {
    await page.getByRole("button", { name: "Show all" }).click();
    await page.getByText(/3 memories of user alice/).waitFor();
    const found = page.locator("li.memory", { hasText: "User works at Acme" });
    const id = (await found.getAttribute("data-id"))!;
    // By id: while editing, the row's text is in a text box.
    const row = page.locator(`li.memory[data-id="${id}"]`);
    await row.getByRole("button", { name: "Edit" }).click();
    const editor = row.getByRole("textbox", { name: "Memory text" });
    await editor.fill("User works at Initech");
    await editor.press("Control+Enter");
    await page.getByText("Memory saved.").waitFor();
    expect((await memory.get(id))?.memory).toBe("User works at Initech");

    await row.getByRole("button", { name: "History" }).click();
    const entries = row.getByTestId("history-entry");
    await entries.first().waitFor();
    expect(await entries.allTextContents()).toEqual([
      expect.stringMatching(/^UPDATE .*User works at Acme → User works at Initech$/),
      expect.stringMatching(/^ADD .*User works at Acme$/),
    ]);
  });

  test("deletes only after confirmation", async () => {
    const row = page.locator("li.memory", { hasText: "User lives in Paris" });
    const id = (await row.getAttribute("data-id"))!;
    await row.getByRole("button", { name: "Delete" }).click();
    const dialog = page.locator("#confirm-delete");
    expect(await dialog.isVisible()).toBe(true);
    expect(await page.locator("#confirm-text").textContent()).toBe("User lives in Paris");
    await page.keyboard.press("Enter"); // focus is on Cancel
    await page.getByText("Nothing deleted.").waitFor();
    expect(await memory.get(id)).not.toBeNull();

    await row.getByRole("button", { name: "Delete" }).click();
    await page.locator("#confirm-ok").click();
    await page.getByText("Memory deleted.").waitFor();
    expect(await memory.get(id)).toBeNull();
    expect(await texts()).not.toContain("User lives in Paris");
  });

  test("draws the current relations, and invalidated ones on demand", async () => {
    await page.getByRole("tab", { name: "Graph" }).click();
    const svg = page.locator("#graph svg");
    await svg.waitFor();
    expect((await page.getByTestId("entity").allTextContents()).sort()).toEqual([
      "acme",
      "alice",
      "berlin",
    ]);
    expect((await page.getByTestId("edge-label").allTextContents()).sort()).toEqual([
      "lives_in",
      "works_at",
    ]);
    expect(await page.locator("line.edge.invalid").count()).toBe(0);

    await page.getByLabel("Show invalidated relations").check();
    await page.locator("line.edge.invalid").waitFor();
    expect((await page.getByTestId("entity").allTextContents()).sort()).toEqual([
      "acme",
      "alice",
      "berlin",
      "paris",
    ]);
    expect(await page.locator("#relation-list li.invalid").textContent()).toMatch(
      /^alice —lives_in→ paris \(until /,
    );
    const shot = await svg.screenshot();
    expect(shot.subarray(1, 4).toString()).toBe("PNG");
  });

  test("lists the outbox's pending writes; arrow keys move between tabs", async () => {
    await page.getByRole("tab", { name: "Graph" }).focus();
    await page.keyboard.press("ArrowRight");
    expect(await page.getByRole("tab", { name: "Outbox" }).getAttribute("aria-selected")).toBe(
      "true",
    );
    const rows = page.getByTestId("outbox-entry");
    await rows.first().waitFor();
    expect(await rows.count()).toBe(1);
    expect(await rows.first().textContent()).toMatch(/user alice/);
  });
});

// The search page's controls around the results: suggestions while typing (a keyboard-
// accessible combobox), facet filters with counts, "did you mean", and highlighted names.
// search.js calls these; nothing here fetches anything but /v1/suggest. Highlighted text
// from the API is rebuilt as text nodes and <mark> elements only, never set as HTML.
"use strict";

window.SearchControls = (() => {
  const SUGGEST_DELAY_MS = 120;
  const FACET_LABELS = {
    seller_id: "Seller", currency: "Currency", price: "Price", availability: "Availability",
  };
  const AVAILABILITY = {
    in_stock: "In stock", out_of_stock: "Out of stock", preorder: "Pre-order",
    unknown: "Not stated",
  };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The API escapes exactly these five (Python's html.escape); whitespace must survive.
  const ENTITIES = { "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&amp;": "&" };
  function unescapeHtml(text) {
    return text.replace(/&(lt|gt|quot|#x27|amp);/g, (entity) => ENTITIES[entity]);
  }

  // "a <mark>b</mark> c" (HTML-escaped otherwise) -> text and <mark> nodes.
  function marked(highlight, fallback) {
    if (typeof highlight !== "string") return [document.createTextNode(fallback)];
    const nodes = [];
    const parts = highlight.split(/(<mark>|<\/mark>)/);
    let inMark = false;
    for (const part of parts) {
      if (part === "<mark>") { inMark = true; continue; }
      if (part === "</mark>") { inMark = false; continue; }
      if (!part) continue;
      const text = unescapeHtml(part);
      nodes.push(inMark ? el("mark", null, text) : document.createTextNode(text));
    }
    return nodes;
  }

  function suggestions({ input, list, onPick }) {
    let timer = null;
    let active = -1;
    let controller = null;
    const options = () => [...list.querySelectorAll("[role=option]")];

    function close() {
      // A search submitted while a suggestion fetch is pending must not reopen the list.
      window.clearTimeout(timer);
      if (controller) controller.abort();
      list.hidden = true;
      list.replaceChildren();
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      const items = options();
      if (!items.length) return;
      active = (index + items.length) % items.length;
      items.forEach((item, i) => item.setAttribute("aria-selected", String(i === active)));
      input.setAttribute("aria-activedescendant", items[active].id);
    }

    async function load(prefix) {
      if (controller) controller.abort();
      controller = new AbortController();
      let body;
      try {
        const resp = await fetch(`/v1/suggest?${new URLSearchParams({ q: prefix, limit: "6" })}`,
          { headers: { Accept: "application/json" }, signal: controller.signal });
        if (!resp.ok) return close();
        body = await resp.json();
      } catch (_) {
        return; // aborted by the next keystroke, or offline: no suggestions is fine
      }
      if (input.value.trim() !== prefix || !body.suggestions.length) return close();
      list.replaceChildren(...body.suggestions.map((text, i) => {
        const item = el("li", "suggestion", text);
        item.id = `suggestion-${i}`;
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", "false");
        // mousedown, not click: it must run before the input's blur closes the list
        item.addEventListener("mousedown", (event) => {
          event.preventDefault();
          pick(text);
        });
        return item;
      }));
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      active = -1;
    }

    function pick(text) {
      input.value = text;
      close();
      onPick(text);
    }

    input.addEventListener("input", () => {
      window.clearTimeout(timer);
      const prefix = input.value.trim();
      if (prefix.length < 2) return close();
      timer = window.setTimeout(() => load(prefix), SUGGEST_DELAY_MS);
    });
    input.addEventListener("keydown", (event) => {
      if (list.hidden) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        highlight(active + (event.key === "ArrowDown" ? 1 : -1));
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        pick(options()[active].textContent);
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    input.addEventListener("blur", () => window.setTimeout(close, 0));
    return { close };
  }

  function priceLabel(bucket) {
    const to = bucket.to === null ? "and up" : `to ${bucket.to}`;
    return `${bucket.from} ${to} ${bucket.currency}`;
  }

  // Facet groups as buttons that apply the filter; availability is shown, not a filter.
  function facets(container, data, apply) {
    container.replaceChildren();
    if (!data) {
      container.hidden = true;
      return;
    }
    for (const [name, values] of Object.entries(data)) {
      if (!values || !values.length) continue;
      const group = el("div", "facet");
      group.dataset.facet = name;
      const heading = el("h3", "facet-name", FACET_LABELS[name] || name);
      heading.id = `facet-${name}`;
      const items = el("ul", "facet-values");
      items.setAttribute("aria-labelledby", heading.id);
      for (const value of values) {
        const label = name === "price" ? priceLabel(value)
          : name === "availability" ? (AVAILABILITY[value.value] || value.value) : value.value;
        const item = el("li");
        if (name === "availability") {
          item.append(el("span", "facet-value", `${label} (${value.count})`));
        } else {
          const button = el("button", "facet-value", `${label} (${value.count})`);
          button.type = "button";
          button.addEventListener("click", () => apply(name, value));
          item.append(button);
        }
        items.append(item);
      }
      group.append(heading, items);
      container.append(group);
    }
    container.hidden = container.childElementCount === 0;
  }

  // A price compares only within one currency (the API ignores a price without one), so a
  // price typed while the menu says "Any currency" picks the shopper's: the region of the
  // first browser language that names one the menu offers ("pt" is likely Brazil, "hi"
  // India). Emptying both prices puts "Any currency" back, unless the shopper chose one.
  const EURO = "AT BE CY DE EE ES FI FR GR HR IE IT LT LU LV MT NL PT SI SK".split(" ");
  const REGION_CURRENCY = {
    US: "USD", BR: "BRL", IN: "INR", ID: "IDR", GB: "GBP", MX: "MXN", NG: "NGN",
    ...Object.fromEntries(EURO.map((region) => [region, "EUR"])),
  };

  function localeCurrency(languages, offered) {
    for (const tag of languages) {
      let region;
      try {
        region = new Intl.Locale(tag).maximize().region;
      } catch {
        continue; // not a language tag
      }
      const currency = REGION_CURRENCY[region];
      if (currency && offered.includes(currency)) return currency;
    }
    return "";
  }

  function priceCurrency(select, priceInputs, languages) {
    let guessed = ""; // the currency this put in the menu, while the shopper keeps it
    select.addEventListener("change", () => { guessed = ""; });
    for (const input of priceInputs) {
      // "input" comes before the "change" that reruns the search, so the rerun sees it.
      input.addEventListener("input", () => {
        const priced = priceInputs.some((i) => i.value.trim() !== "");
        if (priced && select.value === "") {
          const offered = [...select.options].map((o) => o.value);
          guessed = select.value = localeCurrency(languages, offered);
        } else if (!priced && guessed && select.value === guessed) {
          select.value = guessed = "";
        }
      });
    }
  }

  function didYouMean(container, suggestion, rerun) {
    container.replaceChildren();
    if (!suggestion) {
      container.hidden = true;
      return;
    }
    const button = el("button", "did-you-mean-query", suggestion);
    button.type = "button";
    button.addEventListener("click", () => rerun(suggestion));
    container.append("Showing close spellings. Did you mean ", button, "?");
    container.hidden = false;
  }

  return { marked, suggestions, facets, didYouMean, localeCurrency, priceCurrency };
})();

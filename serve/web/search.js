// The marketplace search page. Plain JavaScript, no framework, nothing fetched from
// elsewhere: it calls our JSON API (/v1/search, /v1/search/image,
// /v1/products/{id}/similar) and shows pictures only through /v1/thumbnails/{id}.
// Everything shown is set as text (never innerHTML), so a product name cannot inject markup.
"use strict";

(() => {
  const PAGE_SIZE = 12;
  const MAX_PHOTO_BYTES = 11 * 1024 * 1024; // the API refuses bodies over 12 MiB
  const THUMB_SIZE = 320;
  const SELLER_RE = /^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$/;

  const $ = (id) => document.getElementById(id);
  const form = $("search-form");
  const queryInput = $("q");
  const photoInput = $("photo");
  const dropZone = $("drop-zone");
  const preview = $("photo-preview");
  const previewImg = $("photo-preview-img");
  const statusEl = $("status");
  const messageEl = $("message");
  const list = $("results");
  const pager = $("pager");
  const prevButton = $("prev");
  const nextButton = $("next");
  const pageLabel = $("page-label");
  const heading = $("results-heading");
  const searchButton = $("search-button");
  const controls = window.SearchControls;
  const FACETS = "seller_id,currency,price,availability";

  // mode: "text" | "image" | "similar"; similar holds {id, name}.
  const state = { mode: null, q: "", file: null, similar: null, offset: 0 };
  let inflight = null;
  // Each run takes a ticket; an answer for an older ticket is dropped, so a search still
  // running cannot overwrite a newer one's message (a refused filter included).
  let latest = 0;
  let previewUrl = null;

  function showMessage(text, kind) {
    messageEl.textContent = text;
    messageEl.dataset.kind = kind || "error";
    messageEl.hidden = false;
  }

  function clearMessage() {
    messageEl.hidden = true;
    messageEl.textContent = "";
  }

  function readFilters() {
    const params = new URLSearchParams();
    const seller = $("seller").value.trim();
    const minPrice = $("min-price").value.trim();
    const maxPrice = $("max-price").value.trim();
    const currency = $("currency").value;
    if (seller) {
      if (!SELLER_RE.test(seller)) {
        return { error: "A seller ID uses letters, digits and . _ : - only." };
      }
      params.set("seller_id", seller);
    }
    for (const [name, value] of [["min_price", minPrice], ["max_price", maxPrice]]) {
      if (!value) continue;
      const number = Number(value);
      if (!Number.isFinite(number) || number < 0) {
        return { error: "Prices must be numbers of zero or more." };
      }
      params.set(name, value);
    }
    if (minPrice && maxPrice && Number(minPrice) > Number(maxPrice)) {
      return { error: "The lowest price must not be above the highest price." };
    }
    if (currency) params.set("currency", currency);
    return { params };
  }

  function describe() {
    if (state.mode === "text") return `for “${state.q}”`;
    if (state.mode === "image") return "like your photo";
    return `like “${state.similar.name}”`;
  }

  async function friendlyError(resp) {
    let detail = "";
    try {
      const body = await resp.json();
      if (typeof body.detail === "string") detail = body.detail.slice(0, 200);
    } catch (_) {
      // Not JSON (a proxy's error page): never show it.
    }
    if (resp.status === 429) {
      const wait = parseInt(resp.headers.get("Retry-After") || "", 10);
      const seconds = Number.isFinite(wait) && wait > 0 ? wait : 5;
      holdSearch(seconds);
      return `Too many searches from your connection right now. Please wait ${seconds} ` +
        `second${seconds === 1 ? "" : "s"} and try again.`;
    }
    if (resp.status === 413) return "That photo is too large. Please choose one under 10 MB.";
    if (resp.status === 404 && state.mode === "similar") {
      return "That product is no longer available, so we cannot find others like it.";
    }
    if (resp.status === 422 && state.mode === "image") {
      return "We could not read that photo. Please try a JPEG, PNG or WebP picture.";
    }
    if (resp.status >= 400 && resp.status < 500 && detail && !/[\n<]/.test(detail)) {
      return `That search could not be run: ${detail}.`;
    }
    if (resp.status >= 400 && resp.status < 500) {
      return "That search could not be run. Please check the search words and filters.";
    }
    return "Search is not available right now. Please try again in a minute.";
  }

  function holdSearch(seconds) {
    searchButton.disabled = true;
    window.setTimeout(() => { searchButton.disabled = false; }, seconds * 1000);
  }

  function request(params) {
    const init = { headers: { Accept: "application/json" } };
    if (state.mode === "text") {
      params.set("q", state.q);
      params.set("facets", FACETS);
      if ($("sort").value !== "relevance") params.set("sort", $("sort").value);
      return [`/v1/search?${params}`, init];
    }
    if (state.mode === "image") {
      const body = new FormData();
      body.append("image", state.file, state.file.name || "photo.jpg");
      return [`/v1/search/image?${params}`, { ...init, method: "POST", body }];
    }
    const id = encodeURIComponent(state.similar.id);
    return [`/v1/products/${id}/similar?${params}`, init];
  }

  async function run(focusResults) {
    const ticket = ++latest;
    const filters = readFilters();
    if (filters.error) {
      if (inflight) inflight.abort();
      list.removeAttribute("aria-busy");
      if (list.dataset.state === "loading") delete list.dataset.state;
      statusEl.textContent = "";
      showMessage(filters.error, "invalid");
      return;
    }
    const params = filters.params;
    // One more than a page: whether a next page exists, without a count query.
    params.set("limit", String(PAGE_SIZE + 1));
    params.set("offset", String(state.offset));
    const [url, init] = request(params);
    if (inflight) inflight.abort();
    inflight = new AbortController();
    init.signal = inflight.signal;
    clearMessage();
    list.setAttribute("aria-busy", "true");
    list.dataset.state = "loading";
    statusEl.textContent = "Searching…";
    remember();
    let resp;
    try {
      resp = await fetch(url, init);
    } catch (err) {
      if (ticket !== latest || (err && err.name === "AbortError")) return;
      statusEl.textContent = "";
      showMessage("We could not reach the marketplace. Check your connection and try again.");
      list.removeAttribute("aria-busy");
      list.dataset.state = "error";
      return;
    }
    if (ticket !== latest) return;
    list.removeAttribute("aria-busy");
    if (!resp.ok) {
      const text = await friendlyError(resp);
      statusEl.textContent = "";
      list.replaceChildren();
      pager.hidden = true;
      showMessage(text, resp.status === 429 ? "rate-limit" : "error");
      list.dataset.state = "error";
      return;
    }
    let body;
    try {
      body = await resp.json();
    } catch (_) {
      if (ticket !== latest) return;
      showMessage("Search is not available right now. Please try again in a minute.");
      list.dataset.state = "error";
      return;
    }
    if (ticket !== latest) return;
    render(body);
    if (focusResults) heading.focus();
  }

  function render(body) {
    const hits = body.results.slice(0, PAGE_SIZE);
    const more = body.results.length > PAGE_SIZE;
    const page = Math.floor(state.offset / PAGE_SIZE) + 1;
    const took = Math.round(Number(body.took_ms));
    list.replaceChildren(...hits.map(card));
    list.dataset.cached = body.cached ? "true" : "false";
    // After the first results, phones keep the form folded so results start on screen.
    form.classList.add("searched");
    if (Array.isArray(body.notices) && body.notices.length) {
      showMessage(body.notices.join(" "), "notice");
    }
    controls.facets($("facets"), state.mode === "text" ? body.facets : null, applyFacet);
    controls.didYouMean($("did-you-mean"), body.did_you_mean, searchFor);
    if (hits.length === 0) {
      statusEl.textContent = `No products ${describe()}.`;
      showMessage(state.offset > 0 ? "There are no more results." :
        "No products match. Try other words, a different photo or fewer filters.", "empty");
    } else {
      const n = hits.length;
      statusEl.textContent = `${n} product${n === 1 ? "" : "s"} ${describe()}, page ${page}. ` +
        `Took ${took} ms${body.cached ? ", from cache" : ""}.`;
    }
    pager.hidden = page === 1 && !more;
    prevButton.disabled = state.offset === 0;
    nextButton.disabled = !more;
    pageLabel.textContent = `Page ${page}`;
    list.dataset.state = "done";
  }

  function price(hit) {
    if (hit.price === null || hit.price === undefined) return "Price on request";
    if (hit.currency) {
      try {
        return new Intl.NumberFormat(undefined, { style: "currency", currency: hit.currency })
          .format(Number(hit.price));
      } catch (_) {
        // An unknown currency code: fall through to the plain form.
      }
    }
    return `${hit.price} ${hit.currency || ""}`.trim();
  }

  // Only web addresses become links: a javascript: URL from a catalog never does.
  function webUrl(url) {
    return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function card(hit) {
    const item = el("li", "card");
    item.dataset.productId = hit.product_id;
    const name = hit.name || "Unnamed product";
    const img = el("img", "thumb");
    img.src = `/v1/thumbnails/${encodeURIComponent(hit.product_id)}?size=${THUMB_SIZE}`;
    img.alt = name;
    img.width = THUMB_SIZE;
    img.height = THUMB_SIZE;
    img.loading = "lazy";
    img.decoding = "async";
    img.addEventListener("error", () => {
      // The seller's picture is missing or refused: a labelled placeholder, same size.
      const missing = el("div", "thumb no-photo", "No photo");
      missing.setAttribute("role", "img");
      missing.setAttribute("aria-label", `${name} (no photo available)`);
      img.replaceWith(missing);
    }, { once: true });
    item.append(img);
    const title = el("h3", "name");
    const productUrl = webUrl(hit.product_url);
    if (productUrl) {
      const link = el("a", "product-link");
      link.append(...controls.marked(hit.highlight && hit.highlight.name, name));
      link.href = productUrl;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      title.append(link);
    } else {
      title.append(...controls.marked(hit.highlight && hit.highlight.name, name));
    }
    item.append(title);
    item.append(el("p", "price", price(hit)));
    if (hit.availability === "out_of_stock") {
      item.classList.add("out-of-stock");
      item.append(el("p", "stock out", "Out of stock"));
    } else if (hit.availability === "preorder") {
      item.append(el("p", "stock preorder", "Pre-order"));
    }
    const sellerName = hit.seller_name || hit.seller_id;
    item.append(el("p", "seller", `Sold by ${sellerName}`));
    const contactUrl = webUrl(hit.contact_url);
    if (contactUrl) {
      const whatsapp = hit.contact_kind === "whatsapp";
      const contact = el("a", `contact ${whatsapp ? "whatsapp" : "shop"}`,
        whatsapp ? "Chat on WhatsApp" : "Visit the shop");
      contact.href = contactUrl;
      contact.target = "_blank";
      contact.rel = "noopener noreferrer";
      contact.setAttribute("aria-label", whatsapp
        ? `Chat with ${sellerName} on WhatsApp about ${name}`
        : `Visit ${sellerName}'s shop for ${name}`);
      item.append(contact);
    }
    const like = el("button", "like", "More like this");
    like.type = "button";
    like.setAttribute("aria-label", `More like this: ${name}`);
    like.addEventListener("click", () => {
      state.mode = "similar";
      state.similar = { id: hit.product_id, name };
      state.offset = 0;
      run(true);
    });
    item.append(like);
    return item;
  }

  // The address bar keeps a text search (or a "more like this"), so it can be shared,
  // reloaded and gone back to. A photo stays in this tab only.
  function remember() {
    const params = new URLSearchParams();
    if (state.mode === "text") params.set("q", state.q);
    if (state.mode === "similar") {
      params.set("like", state.similar.id);
      params.set("name", state.similar.name);
    }
    const filters = readFilters().params;
    if (filters && state.mode !== "image") {
      for (const [k, v] of filters) params.set(k, v);
    }
    if (state.offset > 0 && state.mode !== "image") params.set("offset", String(state.offset));
    if (state.mode === "text" && $("sort").value !== "relevance") params.set("sort", $("sort").value);
    const query = params.toString();
    history.replaceState(null, "", query ? `?${query}` : location.pathname);
  }

  function setPhoto(file) {
    if (!file) return;
    if (!file.type.startsWith("image/")) {
      showMessage("That file is not a picture. Please choose a JPEG, PNG or WebP photo.");
      return;
    }
    if (file.size > MAX_PHOTO_BYTES) {
      showMessage("That photo is too large. Please choose one under 10 MB.");
      return;
    }
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(file);
    previewImg.src = previewUrl;
    preview.hidden = false;
    state.mode = "image";
    state.file = file;
    state.offset = 0;
    run(false);
  }

  function clearPhoto() {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
    previewImg.removeAttribute("src");
    preview.hidden = true;
    photoInput.value = "";
    state.file = null;
    if (state.mode === "image") state.mode = null;
    photoInput.focus();
  }

  function searchFor(text) {
    queryInput.value = text;
    state.mode = "text";
    state.q = text.slice(0, 500);
    state.offset = 0;
    run(false);
  }

  // A facet value narrows the search through the same filter fields a shopper edits.
  function applyFacet(name, value) {
    if (name === "seller_id") $("seller").value = value.value;
    if (name === "currency" || name === "price") {
      const currency = name === "price" ? value.currency : value.value;
      const select = $("currency");
      if (![...select.options].some((o) => o.value === currency)) {
        select.append(new Option(currency, currency));
      }
      select.value = currency;
    }
    if (name === "price") {
      $("min-price").value = value.from;
      $("max-price").value = value.to === null ? "" : value.to;
    }
    state.offset = 0;
    run(true);
  }

  const suggest = controls.suggestions({
    input: queryInput, list: $("suggestions"), onPick: searchFor,
  });

  form.addEventListener("submit", (event) => {
    suggest.close();
    event.preventDefault();
    const q = queryInput.value.trim();
    if (q) {
      state.mode = "text";
      state.q = q.slice(0, 500);
    } else if (state.file) {
      state.mode = "image";
    } else {
      showMessage("Type a few words or choose a photo to search.", "invalid");
      queryInput.focus();
      return;
    }
    state.offset = 0;
    run(false);
  });

  $("refine").addEventListener("click", () => {
    form.classList.remove("searched");
    photoInput.focus();
  });
  photoInput.addEventListener("change", () => setPhoto(photoInput.files[0]));
  $("photo-clear").addEventListener("click", clearPhoto);

  for (const kind of ["dragenter", "dragover"]) {
    dropZone.addEventListener(kind, (event) => {
      event.preventDefault();
      dropZone.classList.add("dragging");
    });
  }
  for (const kind of ["dragleave", "drop"]) {
    dropZone.addEventListener(kind, () => dropZone.classList.remove("dragging"));
  }
  dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    const files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) setPhoto(files[0]);
  });

  controls.priceCurrency(
    $("currency"), [$("min-price"), $("max-price")], navigator.languages || [navigator.language]
  );
  for (const id of ["seller", "min-price", "max-price", "currency", "sort"]) {
    $(id).addEventListener("change", () => {
      if (!state.mode) return;
      state.offset = 0;
      run(false);
    });
  }

  prevButton.addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE_SIZE);
    run(true);
  });
  nextButton.addEventListener("click", () => {
    state.offset += PAGE_SIZE;
    run(true);
  });

  // Start from the address bar: a shared link or a reload shows the same results.
  const start = new URLSearchParams(location.search);
  const fields = { seller_id: "seller", min_price: "min-price", max_price: "max-price" };
  for (const [param, id] of Object.entries(fields)) {
    if (start.get(param)) $(id).value = start.get(param);
  }
  if (start.get("currency")) $("currency").value = start.get("currency");
  if (start.get("sort")) $("sort").value = start.get("sort");
  const offset = Math.max(0, parseInt(start.get("offset") || "0", 10) || 0);
  if (start.get("q")) {
    queryInput.value = start.get("q");
    Object.assign(state, { mode: "text", q: start.get("q").slice(0, 500), offset });
    run(false);
  } else if (start.get("like")) {
    const similar = { id: start.get("like"), name: start.get("name") || "this product" };
    Object.assign(state, { mode: "similar", similar, offset });
    run(false);
  }
  document.documentElement.dataset.ready = "true";
})();

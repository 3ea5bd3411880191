// The sample catalog list: rendered in the browser, 20 products at a time, loading the
// next page when the sentinel scrolls into view (as WhatsApp's catalog does).
(function () {
  "use strict";
  const phone = location.pathname.split("/").filter(Boolean)[1];
  const list = document.getElementById("list");
  const sentinel = document.getElementById("sentinel");
  let offset = 0;
  let loading = false;
  let done = false;

  function item(p) {
    const div = document.createElement("div");
    div.className = "item";
    div.setAttribute("data-testid", "catalog-item");
    div.setAttribute("data-product-id", p.id);
    const a = document.createElement("a");
    a.href = p.url;
    const img = document.createElement("img");
    img.alt = "";
    img.loading = "lazy";
    if (p.thumbnail) img.src = p.thumbnail;
    const text = document.createElement("div");
    const title = document.createElement("div");
    title.setAttribute("data-testid", "product-title");
    title.textContent = p.name;
    const price = document.createElement("div");
    price.className = "price";
    price.setAttribute("data-testid", "product-price");
    price.textContent = p.price;
    text.append(title, price);
    a.append(img, text);
    div.append(a);
    return div;
  }

  function finish(kind, message) {
    done = true;
    observer.disconnect();
    sentinel.textContent = message;
    sentinel.className = kind;
    sentinel.setAttribute("data-testid", kind === "end" ? "catalog-end" : "catalog-unavailable");
    list.setAttribute("aria-busy", "false");
  }

  async function more() {
    if (loading || done) return;
    loading = true;
    try {
      const r = await fetch(`/api/catalog/${phone}?offset=${offset}&limit=20`);
      if (!r.ok) { finish("unavailable", "This catalog is not available."); return; }
      const page = await r.json();
      document.querySelector("[data-testid=catalog-seller-name]").textContent = page.seller;
      for (const p of page.products) list.append(item(p));
      offset += page.products.length;
      if (page.next_offset === null) finish("end", "End of catalog");
    } catch (e) {
      sentinel.textContent = "Could not load; scroll to retry.";
    } finally {
      loading = false;
    }
    // A tall screen may still show the sentinel: keep loading without a scroll.
    if (!done && sentinel.getBoundingClientRect().top < window.innerHeight) more();
  }

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) more();
  });
  observer.observe(sentinel);
})();

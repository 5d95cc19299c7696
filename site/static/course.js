// The course's additions to sphinx-book-theme (site/conf.py loads this file, deferred, so it runs
// after Sphinx's searchtools.js on the search page).
//
// Search excerpts from the page's content only. Sphinx takes an excerpt from the element with
// role="main", which this theme puts on the whole main area: the article's header buttons and
// the footer's navigation then start every excerpt. The article itself gets that role instead.
if (typeof Search !== "undefined" && Search.htmlToText) {
  const htmlToText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    const article = page.querySelector("article.bd-article");
    if (!article) return htmlToText(htmlString, anchor);
    page.querySelectorAll('[role="main"]').forEach((element) => element.removeAttribute("role"));
    article.setAttribute("role", "main");
    return htmlToText(page.documentElement.outerHTML, anchor);
  };
}

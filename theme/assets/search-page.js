// Placeholder: the search page script (Pagefind UI for search/index.html) is written by
// the search work. Loaded as a module by templates/search.html; does nothing yet.

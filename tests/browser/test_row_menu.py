"""The User List's ⋮ menu is never clipped by the table's box: opened on the only row of a search
and on the last row of a page, at 1366×900 and on a 360-pixel-wide phone, every item is shown
whole and works when clicked."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_flows import sign_in
from tests.factories import AdminFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORTS = {"1366x900": {"width": 1366, "height": 900}, "360x740": {"width": 360, "height": 740}}

# Whether the element is drawn where it is, as the menu opened: only the page itself is scrolled
# to it (a box it sits in is not: an item reachable only by scrolling inside the table is the
# bug), then the point at its centre hits it and every ancestor that clips its overflow holds
# the element's whole box.
UNCLIPPED = """(el) => {
  const before = el.getBoundingClientRect();
  window.scrollBy(0, before.top + before.height / 2 - window.innerHeight / 2);
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return 'no size';
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  if (!hit || !el.contains(hit)) return 'covered or clipped at its centre';
  for (let a = el.parentElement; a; a = a.parentElement) {
    const style = getComputedStyle(a);
    if (style.overflowX === 'visible' && style.overflowY === 'visible') continue;
    const box = a.getBoundingClientRect();
    if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1
        || r.bottom > box.bottom + 1) return 'clipped by ' + a.tagName + '.' + a.className;
  }
  return 'ok';
}"""


@pytest.fixture
def organization():
    org = OrganizationFactory(slug="menus")
    admin = AdminFactory(
        organization=org, login_id="boss@menus.example.com", name="Zed Boss", locale="en"
    )
    # 26 members sorted before the admin: with 25 per page, page 1 ends on Agent 24.
    members = [
        UserFactory(
            organization=org,
            login_id=f"agent{i:02d}@menus.example.com",
            name=f"Agent {i:02d}",
            extension=str(300 + i),
        )
        for i in range(26)
    ]
    return admin, members


def open_menu(row):
    row.locator("details.row-menu summary").click()
    menu = row.locator("details.row-menu .menu")
    expect(menu).to_be_visible()
    return menu


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=list(VIEWPORTS))
@pytest.mark.parametrize("where", ["only-row", "last-row-of-a-page"])
def test_every_menu_item_is_whole_and_works(new_page, screenshot, organization, viewport, where):
    admin, members = organization
    page = sign_in(new_page, admin, "en", viewport=VIEWPORTS[viewport])
    if where == "only-row":
        target, list_url, count = members[7], "/users/?q=agent07", 1
    else:
        target, list_url, count = members[24], "/users/?per_page=25", 25
    page.goto(list_url)
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(count)
    row = rows.last
    expect(row.locator("td.col-name")).to_have_text(target.name)

    menu = open_menu(row)
    screenshot(page, f"menu-{where}-{viewport}")
    items = menu.locator("a")
    labels = items.all_inner_texts()
    assert labels == ["Details", "Edit", "Deactivate", "Delete"], labels
    for index, label in enumerate(labels):
        if index:  # back on the list, the menu opened again
            page.goto(list_url)
            row = page.locator("tbody tr").last
            menu = open_menu(row)
        item = menu.locator("a").nth(index)
        assert item.evaluate(UNCLIPPED) == "ok", (label, viewport, where)
        item.click()
        action = "" if label == "Details" else f"{label.lower()}/"
        expect(page).to_have_url(re.compile(rf"/users/{target.pk}/{action}\?next="))
        expect(page.locator("h1")).to_be_visible()


# How many lines each cell of a row takes (not the ⋮ cell: it holds the menu, a pop-up): the
# boxes of its text, grouped by their top (text of different sizes on one line starts a few
# pixels apart; a wrapped line starts a line-height lower).
CELL_LINES = """(row) => Array.from(row.querySelectorAll('td:not(.col-actions)')).map((td) => {
  const tops = [];
  const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    for (const r of range.getClientRects()) if (r.width > 0) tops.push(r.top);
  }
  tops.sort((a, b) => a - b);
  let lines = 0, last = -1000;
  for (const t of tops) { if (t - last > 10) { lines += 1; last = t; } }
  return [td.className, lines];
})"""


def test_a_row_stays_on_one_line_in_english_at_1366_pixels(new_page, screenshot, organization):
    admin, members = organization
    from permissions import catalog
    from tests.factories import GrantFactory

    wide = members[0]
    for service in catalog.GRANTABLE:
        if not service.has_levels:
            GrantFactory(user=wide, service=service.code)
    wide.name = "Alexandria Montgomery-Smith"  # 27 of the 30 characters a name may have
    wide.save(update_fields=["name"])
    page = sign_in(new_page, admin, "en", viewport=VIEWPORTS["1366x900"])

    row = page.locator("tbody tr", has_text="Alexandria")
    lines = dict(row.evaluate(CELL_LINES))

    assert all(n <= 1 for n in lines.values()), sorted(lines.items())
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1366, width  # and the page does not scroll sideways
    fits = page.evaluate(
        "() => { const t = document.querySelector('table.user-table'); return"
        " [t.getBoundingClientRect().right, t.parentElement.getBoundingClientRect().right]; }"
    )
    assert fits[0] <= fits[1] + 1, fits  # nor does the table stick out of its box
    screenshot(page, "user-list-one-line-1366-en")

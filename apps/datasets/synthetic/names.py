"""Names, places and words the party generator composes Ukrainian and foreign parties from."""

from __future__ import annotations

from dataclasses import dataclass

from apps.entities import given_names

# The commonest given names the matcher knows (with their Russian forms and patronymics): the generator writes
# people only with names apps.entities.normalize can read in both languages.
MALE_NAMES = given_names.MALE_NAMES[:36]
FEMALE_NAMES = given_names.FEMALE_NAMES[:28]

# Surnames that do not change with sex, and adjectival ones given as (male, female).
SURNAMES: tuple[str, ...] = (
    "Коваленко", "Бондаренко", "Ткаченко", "Кравченко", "Шевченко", "Бойко", "Коваль", "Мельник", "Шевчук",
    "Поліщук", "Олійник", "Лисенко", "Савченко", "Руденко", "Марченко", "Петренко", "Мороз", "Павленко",
    "Левченко", "Кузьменко", "Гнатюк", "Ковальчук", "Карпенко", "Мазур", "Романенко", "Клименко", "Ткачук",
    "Сидоренко", "Гончаренко", "Кравчук", "Василенко", "Литвиненко", "Дячук", "Приходько", "Мартинюк",
    "Остапенко", "Пономаренко", "Яковенко", "Зінченко", "Гаврилюк", "Білоус", "Собко", "Тимошенко", "Захарченко",
    "Харченко", "Власенко", "Дмитренко", "Юрченко", "Семенюк", "Панченко", "Костенко", "Нестеренко", "Кучер",
    "Гуменюк", "Федоренко", "Ярошенко", "Осадчук", "Антонюк", "Демченко", "Лук'яненко", "Грищенко", "Бабенко",
    "Сорока", "Головко", "Зайченко", "Швець", "Кушнір", "Бондар", "Гребенюк", "Вакуленко", "Дорошенко",
    "Щербак", "Максименко", "Якименко", "Стецюк", "Филипчук", "Хоменко", "Мисник", "Гордієнко", "Прокопенко",
    "Іваненко", "Бурлака", "Чорновол", "Довженко", "Кривенко", "Сенченко", "Бачинський", "Степанюк", "Ігнатенко",
    "Гайдамака", "Рибак", "Лозинський", "Мирошниченко", "Пилипенко", "Тарасенко", "Вовк", "Коломієць", "Євтушенко",
)  # fmt: skip
ADJECTIVAL_SURNAMES: tuple[tuple[str, str], ...] = (
    ("Ковальський", "Ковальська"),
    ("Вишневський", "Вишневська"),
    ("Яворський", "Яворська"),
    ("Сосновський", "Сосновська"),
    ("Левицький", "Левицька"),
    ("Білецький", "Білецька"),
    ("Савицький", "Савицька"),
    ("Грушевський", "Грушевська"),
    ("Заболотний", "Заболотна"),
    ("Чорний", "Чорна"),
    ("Білий", "Біла"),
    ("Згурський", "Згурська"),
    ("Вербицький", "Вербицька"),
    ("Куликовський", "Куликовська"),
    ("Оліфіренко", "Оліфіренко"),
)


@dataclass(frozen=True)
class City:
    name: str
    name_ru: str
    postcode: int  # first postcode of the city; a company or flat gets one nearby
    streets: tuple[str, ...]


CITIES: tuple[City, ...] = (
    City(
        "Київ",
        "Киев",
        1001,
        (
            "вул. Хрещатик",
            "вул. Велика Васильківська",
            "вул. Саксаганського",
            "вул. Кирилівська",
            "вул. Антоновича",
            "вул. Січових Стрільців",
            "вул. Жилянська",
            "бульв. Лесі Українки",
            "просп. Берестейський",
            "вул. Ярославська",
            "вул. Набережно-Хрещатицька",
            "вул. Глибочицька",
            "просп. Бажана",
            "вул. Здолбунівська",
            "вул. Межигірська",
            "вул. Вікентія Хвойки",
            "просп. Степана Бандери",
            "вул. Дегтярівська",
        ),
    ),
    City(
        "Львів",
        "Львов",
        79000,
        (
            "вул. Городоцька",
            "вул. Зелена",
            "просп. Шевченка",
            "вул. Личаківська",
            "вул. Стрийська",
            "вул. Богдана Хмельницького",
            "вул. Шевченка",
            "вул. Наукова",
        ),
    ),
    City(
        "Одеса",
        "Одесса",
        65000,
        (
            "вул. Дерибасівська",
            "вул. Канатна",
            "Фонтанська дорога",
            "вул. Балківська",
            "вул. Грецька",
            "вул. Базарна",
            "просп. Шевченка",
        ),
    ),
    City(
        "Дніпро",
        "Днепр",
        49000,
        (
            "просп. Дмитра Яворницького",
            "вул. Робоча",
            "вул. Січеславська Набережна",
            "вул. Олеся Гончара",
            "просп. Слобожанський",
        ),
    ),
    City("Харків", "Харьков", 61000, ("вул. Сумська", "вул. Пушкінська", "просп. Науки", "вул. Полтавський Шлях")),
    City("Запоріжжя", "Запорожье", 69000, ("просп. Соборний", "вул. Перемоги", "вул. Поштова")),
    City("Вінниця", "Винница", 21000, ("вул. Соборна", "вул. Келецька", "вул. Пирогова")),
    City("Житомир", "Житомир", 10000, ("вул. Київська", "вул. Велика Бердичівська")),
    City("Чернівці", "Черновцы", 58000, ("вул. Головна", "вул. Руська")),
    City("Ужгород", "Ужгород", 88000, ("вул. Собранецька", "просп. Свободи")),
    City("Луцьк", "Луцк", 43000, ("просп. Волі", "вул. Ковельська")),
    City("Рівне", "Ровно", 33000, ("вул. Соборна", "вул. Київська")),
    City("Тернопіль", "Тернополь", 46000, ("вул. Руська", "вул. Текстильна")),
    City("Івано-Франківськ", "Ивано-Франковск", 76000, ("вул. Незалежності", "вул. Галицька")),
    City("Хмельницький", "Хмельницкий", 29000, ("вул. Проскурівська", "вул. Кам'янецька")),
    City("Полтава", "Полтава", 36000, ("вул. Соборності", "вул. Європейська")),
    City("Черкаси", "Черкассы", 18000, ("бульв. Шевченка", "вул. Смілянська")),
    City("Біла Церква", "Белая Церковь", 9100, ("вул. Ярослава Мудрого", "бульв. Олександрійський")),
    City("Бровари", "Бровары", 7400, ("вул. Київська", "бульв. Незалежності")),
    City("Бориспіль", "Борисполь", 8300, ("вул. Київський Шлях", "вул. Головатого")),
)
# Where companies register: the capital and the big trading cities dominate.
CITY_WEIGHTS: tuple[float, ...] = (40, 12, 10, 8, 5, 3, 3, 2, 2, 2, 2, 1.5, 1.5, 1.5, 1.5, 1.5, 1, 1, 1, 1)

STREET_TYPES_RU = {"вул.": "ул.", "просп.": "просп.", "бульв.": "бульв.", "пров.": "пер."}

# Words Ukrainian company names are made of: «Зоря-Схід», «Агротрейд Плюс», «Технопостач».
BRAND_PREFIXES: tuple[str, ...] = (
    "Агро", "Техно", "Укр", "Буд", "Енерго", "Мета", "Інтер", "Транс", "Хім", "Фарм", "Еко", "Нафто", "Електро",
    "Авто", "Лайт", "Мега", "Проф", "Смарт", "Євро", "Торг", "Пром", "Спец", "Дніпро", "Карпат", "Поділ",
    "Слобід", "Полісся", "Волинь", "Галич", "Прут", "Сіверськ", "Зерно", "Метал", "Агрохім", "Терра", "Нова",
    "Біо", "Вест", "Ост", "Юні", "Гео", "Гідро", "Термо", "Полі", "Фуд", "Тех", "Комп", "Медіа", "Оптім", "Стар",
    "Еліт", "Альт", "Бізнес", "Укрпром", "Кий", "Дністер", "Тавр", "Азов", "Буг", "Рось", "Сула",
)  # fmt: skip
BRAND_ROOTS: tuple[str, ...] = (
    "постач", "трейд", "імпорт", "експорт", "сервіс", "пром", "торг", "лайн", "маркет", "груп", "систем",
    "інвест", "логістик", "союз", "комплект", "збут", "ресурс", "альянс", "капітал", "стандарт", "профіт",
    "техніка", "продукт", "контракт", "маш", "пласт", "текс", "фуд", "тех", "дистрибуція", "постачання",
    "трейдинг", "холдинг", "ком", "буд", "сфера", "терминал", "експрес", "вест", "агро", "хім", "світ", "поліс",
    "метал", "енерго",
)  # fmt: skip
BRAND_SUFFIXES: tuple[str, ...] = (
    "", "", "", "", " Плюс", "-Україна", " Груп", "-2000", " ЛТД", "-Схід", "-Захід", "-Південь", "-Центр",
    " Інтернешнл", "-М", "-К", " Юа", "-Трейд", " Партнер",
)  # fmt: skip
BRAND_WORDS: tuple[str, ...] = (
    "Зоря", "Світанок", "Веста", "Альфа", "Вектор", "Оріон", "Гермес", "Атлант", "Діамант", "Сокіл", "Барвінок",
    "Калина", "Берегиня", "Ватра", "Явір", "Промінь", "Обрій", "Легіон", "Каскад", "Квант", "Форвард", "Магнат",
    "Меридіан", "Фортуна", "Престиж", "Лідер", "Спектр", "Ренесанс", "Гарант", "Титан", "Аврора", "Меркурій",
    "Паритет", "Сварог", "Колос", "Нива", "Добробут", "Злагода", "Левада", "Дібрава", "Стожари", "Чумак",
)  # fmt: skip
BRAND_QUALIFIERS: tuple[str, ...] = (
    "Схід", "Захід", "Південь", "Північ", "Центр", "Плюс", "Груп", "Трейд", "Інвест", "Агро", "Транс", "Буд",
    "Імпорт", "Лайн", "Сервіс", "Україна", "Поділля", "Карпати", "Дніпро", "Слобожанщина",
)  # fmt: skip
# Descriptive heads of a company name: «Торговий дім «Зоря»», «Агрофірма «Колос»».
BRAND_HEADS: tuple[str, ...] = (
    "Торговий дім", "Компанія", "Виробнича компанія", "Група компаній", "Торгова компанія", "Агрофірма",
    "Науково-виробниче підприємство", "Інвестиційна компанія", "Будівельна компанія", "Логістична компанія",
)  # fmt: skip
BROKER_WORDS: tuple[str, ...] = (
    "Митний брокер", "Брокерська контора", "Митна агенція", "Брокерський дім", "Митний сервіс", "Декларант",
    "Митно-брокерська компанія",
)  # fmt: skip

# Legal forms: abbreviation, full name, Russian abbreviation and full name, Latin abbreviation and English form.
LEGAL_FORMS: dict[str, tuple[str, str, str, str, str]] = {
    "ТОВ": (
        "Товариство з обмеженою відповідальністю", "ООО", "Общество с ограниченной ответственностью", "TOV", "LLC",
    ),
    "ПП": ("Приватне підприємство", "ЧП", "Частное предприятие", "PP", "PE"),
    "ПрАТ": ("Приватне акціонерне товариство", "ЧАО", "Частное акционерное общество", "PrAT", "PJSC"),
    "АТ": ("Акціонерне товариство", "АО", "Акционерное общество", "AT", "JSC"),
    "ДП": ("Дочірнє підприємство", "ДП", "Дочернее предприятие", "DP", "SE"),
    "ТДВ": ("Товариство з додатковою відповідальністю", "ОДО", "Общество с дополнительной ответственностью", "TDV",
            "ALC"),
    "ФОП": ("Фізична особа-підприємець", "ФЛП", "Физическое лицо-предприниматель", "FOP", "Individual Entrepreneur"),
}  # fmt: skip
# Shares of legal forms among legal entities (ФОП are drawn separately from people).
LEGAL_FORM_WEIGHTS: dict[str, float] = {"ТОВ": 78, "ПП": 12, "ПрАТ": 4, "АТ": 2, "ДП": 3, "ТДВ": 1}

# Words foreign company names are made of, by naming style.
FOREIGN_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "zh": {
        "place": ("Ningbo", "Shenzhen", "Guangzhou", "Yiwu", "Shanghai", "Qingdao", "Xiamen", "Hangzhou", "Dongguan",
                  "Foshan", "Tianjin", "Suzhou", "Zhejiang", "Jiangsu", "Fujian", "Wenzhou"),
        "name": ("Hengda", "Xinhua", "Dalong", "Taifeng", "Longsheng", "Jiakang", "Ruimei", "Yuantong", "Weihong",
                 "Jinbao", "Fuli", "Huayang", "Shengtai", "Kaixuan", "Haitian", "Mingyuan", "Tongda", "Zhongxin"),
        "trade": ("Trading", "Import & Export", "Electronics", "Technology", "Industrial", "Textile", "Machinery",
                  "Plastic Products", "Commerce", "Industry"),
    },
    "tr": {
        "name": ("Yıldız", "Demir", "Kaya", "Şahin", "Çelik", "Aydın", "Öztürk", "Arslan", "Doğan", "Kılıç", "Aslan",
                 "Koç", "Kurt", "Özdemir", "Ege", "Akdeniz", "Anadolu", "Marmara"),
        "trade": ("Tekstil", "Gıda", "Plastik", "Makina", "Kimya", "İnşaat", "Otomotiv", "Tarım", "Ambalaj", "Mobilya",
                  "Dış Ticaret"),
    },
    "pl": {
        "name": ("Agro", "Trans", "Bud", "Chem", "Euro", "Mega", "Polo", "Inter", "Tech", "Mazowsze", "Wisła", "Orzeł",
                 "Kowalski", "Nowak", "Wiśniewski", "Lewandowski", "Zieliński", "Kamiński"),
        "trade": ("Pol", "Handel", "Trade", "Logistyka", "Dystrybucja", "Export", "Food", "System", "Serwis"),
    },
    "de": {
        "name": ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann",
                 "Schulz", "Koch", "Richter", "Krüger", "Braun", "Lange", "Vogel"),
        "trade": ("Handels", "Logistik", "Maschinenbau", "Technik", "Chemie", "Agrar", "Automobile", "Lebensmittel",
                  "Industriebedarf", "Export"),
    },
    "it": {
        "name": ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
                 "Bruno", "Gallo", "Conti", "De Luca"),
        "trade": ("Alimentari", "Tessile", "Industria", "Meccanica", "Commerciale", "Export", "Calzature", "Vini"),
    },
    "en": {
        "name": ("Global", "Pacific", "Atlantic", "Summit", "Prime", "Apex", "Star", "Golden", "United", "Royal",
                 "Eastern", "Delta", "Omega", "Northern", "Horizon", "Blue Ocean", "Green Valley", "Silver", "Crown",
                 "Meridian", "Sunrise", "Orient", "Continental", "Everest", "Phoenix", "Harbor", "Evergreen"),
        "trade": ("Trading", "Foods", "Industries", "Logistics", "Commodities", "Chemicals", "Motors", "Pharma",
                  "Agro", "Steel", "Textiles", "Exports", "Distribution", "Resources", "Supplies"),
    },
}  # fmt: skip

# Longer spellings of foreign legal forms, the way clerks expand or compress them.
FOREIGN_LEGAL_VARIANTS: dict[str, tuple[str, ...]] = {
    "Co., Ltd.": ("Company Limited", "CO.,LTD", "Co Ltd"),
    "Ltd": ("Limited", "LTD."),
    "Ltd.": ("Limited", "LTD"),
    "LLC": ("L.L.C.", "Limited Liability Company"),
    "Inc.": ("Incorporated", "INC"),
    "GmbH": ("G.m.b.H.", "Gesellschaft mit beschränkter Haftung"),
    "GmbH & Co. KG": ("GmbH&Co.KG", "GmbH und Co. KG"),
    "AG": ("A.G.", "Aktiengesellschaft"),
    "Sp. z o.o.": ("Sp.z o.o.", "Spółka z ograniczoną odpowiedzialnością", "SP. Z O.O."),
    "S.A.": ("SA", "Sociedad Anónima"),
    "S.r.l.": ("SRL", "S.R.L."),
    "S.p.A.": ("SpA", "S.P.A."),
    "San. ve Tic. A.Ş.": ("Sanayi ve Ticaret A.Ş.", "San. Tic. AS", "SAN. VE TIC. A.S."),
    "Ltd. Şti.": ("Limited Şirketi", "LTD STI"),
    "Pvt. Ltd.": ("Private Limited", "Pvt Ltd"),
    "B.V.": ("BV",),
    "s.r.o.": ("spol. s r.o.", "S.R.O."),
    "Kft.": ("Kft",),
    "S.R.L.": ("SRL", "S.r.l."),
    "Sdn. Bhd.": ("Sdn Bhd",),
    "Corp.": ("Corporation",),
    "Corporation": ("Corp.",),
    "JSC": ("Joint Stock Company",),
}
